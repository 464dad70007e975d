// One node of a cluster: the registry follows the NATS JetStream log. Start: restore this node's
// checkpoint (if it has a data directory), connect, create the log if it is missing, check the
// cluster's registry settings, replay the log from the checkpoint on, and only then serve. Then: apply
// every new message as it comes, answer writes through the ClusterExecutor, let reads wait until the
// node has applied what the log held when they came in, and checkpoint periodically and at close.
// Runs on the server's thread.

import type { Logger } from 'pino';
import { ErrorCode, EventStoreError } from '../../errors.js';
import { BinarySnapshotSerializer } from '../../snapshots/binary-serializer.js';
import { FileSystemSnapshotStore } from '../../snapshots/file-system-snapshot-store.js';
import { Snapshotter } from '../../snapshots/snapshotter.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import type { CheckpointItem } from './checkpoints.js';
import { CheckpointCodec, checkpointTarget } from './checkpoints.js';
import { ClusterExecutor, logUnavailable } from './cluster-executor.js';
import type { ResolvedClusterOptions } from './cluster-options.js';
import { LogApplier } from './log-applier.js';
import { encodeSettings } from './log-message.js';
import { NatsLog } from './nats-log.js';
import { streamDigests } from './registry-digest.js';
import { SharedRounds } from './shared-rounds.js';

/** Where and how often a node writes its checkpoints. */
export interface CheckpointOptions {
  dataDir: string;
  intervalMs: number;
  /** Log messages applied between checkpoints (0: no count trigger). */
  everyMessages: number;
}

/** How long each JetStream API request may take. */
const REQUEST_TIMEOUT_MS = 5_000;
/** How long the handshake with a NATS server may take (a loaded server answers late). */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** Why a node could not start following the log (`serve` prints it and exits 1). */
function startFailed(why: string, cause: unknown): EventStoreError {
  return new EventStoreError(ErrorCode.LOG_UNAVAILABLE, `cannot start the cluster node: ${why}`, { cause });
}

export class ClusterNode {
  readonly options: ResolvedClusterOptions;
  readonly #registry: StreamRegistry;
  readonly #logger: Logger;
  readonly #applier: LogApplier;
  readonly #snapshotter: Snapshotter<CheckpointItem> | undefined;
  /** The log this node follows (its stream's creation time), once known or restored. */
  readonly #logId: { id: string | undefined } = { id: undefined };
  #log: NatsLog | undefined;
  #executor: ClusterExecutor | undefined;
  /** The read barrier's rounds: one question to the log per round, shared by concurrent reads. */
  readonly #catchUps = new SharedRounds(() => this.#catchUpRound());
  #startedAt = 0;
  /** Log position of the checkpoint this node started from (0: none). */
  #restoredAt = 0;

  constructor(
    registry: StreamRegistry,
    options: ResolvedClusterOptions,
    logger: Logger,
    checkpoints: CheckpointOptions | undefined,
  ) {
    this.options = options;
    this.#registry = registry;
    this.#logger = logger;
    this.#applier = new LogApplier(registry, options.origin, logger, (request, _seq, outcome) =>
      this.#executor?.settle(request, outcome),
    );
    this.#snapshotter =
      checkpoints === undefined
        ? undefined
        : new Snapshotter<CheckpointItem>(
            checkpointTarget(registry, this.#applier, this.#logId),
            {
              intervalMs: checkpoints.intervalMs,
              minEventsBetweenSnapshots: checkpoints.everyMessages,
              snapshotsToKeep: 2,
              journal: { enabled: false },
              logger: logger.child({ component: 'checkpoints' }),
            },
            new BinarySnapshotSerializer<CheckpointItem>({ codec: new CheckpointCodec() }),
            new FileSystemSnapshotStore(checkpoints.dataDir, { fsyncDirectory: true }),
          );
  }

  /** The executor of writes (after `start`). */
  get executor(): ClusterExecutor {
    if (this.#executor === undefined) throw new Error('the cluster node is not started');
    return this.#executor;
  }

  /** Restores, connects, replays the log to its current end. Rejects when the node cannot follow it. */
  async start(): Promise<void> {
    this.#startedAt = Date.now();
    if (this.#snapshotter !== undefined) await this.#snapshotter.restore();
    const restoredAt = this.#applier.applied;
    this.#restoredAt = restoredAt;
    // One deadline for everything the start waits for: a NATS server, then the log (JetStream elects
    // its leaders); the replay that follows takes as long as the log is long.
    const deadline = performance.now() + this.options.startTimeoutMs;
    const remaining = (): number => Math.max(0, deadline - performance.now());
    let log: NatsLog;
    try {
      log = await NatsLog.connect(this.options, this.#logger, {
        handshakeMs: HANDSHAKE_TIMEOUT_MS,
        requestMs: REQUEST_TIMEOUT_MS,
        deadlineMs: remaining(),
      });
    } catch (err) {
      throw startFailed(
        `no NATS server of ${this.options.servers.join(', ')} accepted a connection within ` +
          `${this.options.startTimeoutMs} ms (last: ${(err as Error).message})`,
        err,
      );
    }
    this.#log = log;
    try {
      const logId = await log.ensureStream(remaining());
      if (this.#logId.id !== undefined && this.#logId.id !== logId) {
        // The checkpoint belongs to a log that was deleted: start over from the new one.
        this.#logger.warn(
          { checkpointLog: this.#logId.id, log: logId, position: restoredAt },
          'the checkpoint belongs to another log; replaying this one from its start',
        );
        const shards = this.#registry.snapshotTarget();
        for (let p = 0; p < shards.partitions; p++) shards.restore(p, [], 0);
        this.#applier.restoredAt(0);
        this.#restoredAt = 0;
      }
      this.#logId.id = logId;
      // The first node to find the log empty writes the settings every node must share (only if it
      // is still empty, so a retry after a lost answer writes nothing twice).
      const bounds = await log.retrying(remaining(), async () => {
        const { last } = await log.bounds();
        if (last === 0 && (await log.publishIfEmpty(encodeSettings(this.#registry.options)))) {
          this.#logger.info({ settings: this.#registry.options }, 'log started with this node’s settings');
        }
        return log.bounds();
      });
      this.#executor = new ClusterExecutor(
        log,
        this.#applier,
        this.options.origin,
        this.options.writeTimeoutMs,
      );
      log.consume(this.#applier.applied + 1, (seq, data) => this.#applier.apply(seq, data));
      const from = this.#applier.applied;
      await this.#applier.waitFor(bounds.last, Number.POSITIVE_INFINITY);
      const broken = this.#applier.broken;
      if (broken !== undefined) throw broken;
      this.#logger.info(
        {
          node: this.options.nodeId,
          checkpoint: restoredAt,
          replayed: this.#applier.applied - from,
          position: this.#applier.applied,
          streams: this.#registry.streamCount,
          events: this.#registry.eventCount(),
        },
        'caught up with the log',
      );
      this.#snapshotter?.start();
    } catch (err) {
      await log.close();
      if (err instanceof EventStoreError) throw err;
      throw startFailed(
        `the log (JetStream stream ${this.options.stream}) was not available within ` +
          `${this.options.startTimeoutMs} ms (last: ${(err as Error).message})`,
        err,
      );
    }
  }

  /** Last log position this node applied. */
  position(): number {
    return this.#applier.applied;
  }

  /** Whether answers may miss changes the log already holds (cut off from the log). */
  possiblyStale(): boolean {
    return this.#log?.connected !== true || this.#applier.broken !== undefined;
  }

  /**
   * Waits until this node has applied everything the log held when called, at most `readWaitMs`;
   * resolves at once when cut off (the answer is then marked possibly stale).
   */
  catchUp(): Promise<void> {
    if (this.possiblyStale() || this.options.readWaitMs === 0) return Promise.resolve();
    return this.#catchUps.run();
  }

  async #catchUpRound(): Promise<void> {
    const log = this.#log;
    if (log === undefined || !log.connected) return;
    const startedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const last = await Promise.race([
      log.bounds().then(
        (b) => b.last,
        () => undefined,
      ),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), this.options.readWaitMs);
      }),
    ]);
    clearTimeout(timer);
    if (last === undefined) return;
    await this.#applier.waitFor(last, this.options.readWaitMs - (performance.now() - startedAt));
  }

  /** What `GET /cluster` shows. */
  status(): Record<string, unknown> {
    return {
      node: this.options.nodeId,
      stream: this.options.stream,
      position: this.#applier.applied,
      connected: this.#log?.connected === true,
      possiblyStale: this.possiblyStale(),
      ...(this.#applier.broken === undefined ? {} : { broken: this.#applier.broken.message }),
      checkpoints: this.#snapshotter !== undefined,
      startedFromCheckpoint: this.#restoredAt,
      uptimeMs: Date.now() - this.#startedAt,
    };
  }

  /** A digest per stream (equal on nodes that applied the same log). */
  digests(): Record<string, string> {
    return streamDigests(this.#registry);
  }

  /** The error a write gets while the node cannot follow the log, if it cannot. */
  refusal(): Error | undefined {
    const broken = this.#applier.broken;
    if (broken !== undefined) return logUnavailable(broken.message, broken);
    if (this.#log?.connected !== true) return logUnavailable('no connection to NATS');
    return undefined;
  }

  /** Stops following the log, writes a last checkpoint, closes the connection (idempotent). */
  async close(): Promise<void> {
    await this.#log?.close();
    if (this.#snapshotter !== undefined) await this.#snapshotter.stop();
  }
}
