// createServer: the event store as an HTTP service (node:http). Composes the stream registry, the
// snapshotter + journal over the data directory, the HTTP handlers and the connection guard, and the
// lifecycle: restore before listening, drain on close (503 for new requests, in-flight requests
// finish, live reads end), final snapshot, journal closed. Everything runs on one thread; the store
// path never awaits except for the journal flush that acknowledges an append. In cluster mode a
// ClusterNode replaces the snapshotter and journal: writes go through the log, and the data directory
// holds the node's checkpoints.

import { mkdir, rm, stat } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { ErrorCode, EventStoreError } from '../errors.js';
import { BinarySnapshotSerializer } from '../snapshots/binary-serializer.js';
import { FileSystemSnapshotStore } from '../snapshots/file-system-snapshot-store.js';
import { Snapshotter } from '../snapshots/snapshotter.js';
import { ClusterNode } from './cluster/cluster-node.js';
import { lockDataDir, unlockDataDir } from './data-dir-lock.js';
import { startExpirySweep } from './expiry-sweep.js';
import { ConnectionGuard } from './http/connections.js';
import type { LiveResponse, RouteContext } from './http/context.js';
import { handleRequest } from './http/router.js';
import { LocalExecutor } from './local-executor.js';
import { ServerMetrics } from './metrics.js';
import { resolveServerOptions, type ServerOptions } from './server-options.js';
import { type ShardOp, ShardOpCodec } from './streams/shard-ops.js';
import { StreamRegistry } from './streams/stream-registry.js';

/** A running (or ready to run) event store server. */
export interface EventStoreServer {
  /** Restores the data directory, then listens. Resolves with the base URL. */
  listen(): Promise<string>;
  /** Drains and stops (idempotent): 503 for new requests, final snapshot, journal closed. */
  close(): Promise<void>;
  /** Base URL, e.g. `http://127.0.0.1:7070` (after listen). */
  readonly url: string;
  /** The streams. */
  readonly store: StreamRegistry;
  /** The node:http server. */
  readonly http: Server;
}

/** A `listen` failure in a user's words, or the error itself. */
function listenFailure(err: unknown, port: number, host: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const message =
    code === 'EADDRINUSE'
      ? `port ${port} on ${host} is already in use: stop the program that holds it or choose another port (--port)`
      : code === 'EACCES'
        ? `no permission to listen on port ${port} of ${host}: use a port above 1023 (--port)`
        : code === 'EADDRNOTAVAIL'
          ? `${host} is not an address of this machine (--host)`
          : undefined;
  return message === undefined ? err : new EventStoreError(ErrorCode.LISTEN_FAILED, message, { cause: err });
}

/** Creates the server. Nothing is read or bound until `listen()`. */
export function createServer(options: ServerOptions = {}): EventStoreServer {
  const o = resolveServerOptions(options);
  const logger = o.logger ?? pino({ name: 'lockfree-eventstore', level: o.logLevel });
  const registry = new StreamRegistry({
    shards: o.shards,
    streamCapacity: o.streamCapacity,
    maxStreams: o.maxStreams,
    maxProducersPerStream: o.maxProducersPerStream,
    memoryBudgetBytes: o.memoryBudgetBytes,
    maxTombstones: o.maxTombstones,
  });
  const cluster =
    o.cluster === undefined
      ? undefined
      : new ClusterNode(
          registry,
          o.cluster,
          logger.child({ component: 'cluster' }),
          o.dataDir === undefined
            ? undefined
            : { dataDir: o.dataDir, intervalMs: o.snapshotIntervalMs, everyMessages: o.snapshotEveryOps },
        );
  const snapshotter =
    o.dataDir === undefined || cluster !== undefined
      ? undefined
      : new Snapshotter<ShardOp>(
          registry.snapshotTarget(),
          {
            intervalMs: o.snapshotIntervalMs,
            minEventsBetweenSnapshots: o.snapshotEveryOps,
            snapshotsToKeep: 2,
            journal: { enabled: true, syncPolicy: o.fsync },
            logger: logger.child({ component: 'snapshots' }),
          },
          new BinarySnapshotSerializer<ShardOp>({ codec: new ShardOpCodec() }),
          new FileSystemSnapshotStore(o.dataDir, { fsyncDirectory: true }),
        );
  const metrics = new ServerMetrics();
  const live = new Set<LiveResponse>();
  let draining = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const ctx: RouteContext = {
    registry,
    limits: {
      maxBodyBytes: o.maxBodyBytes,
      maxJsonDepth: o.maxJsonDepth,
      maxStreamCapacity: o.maxStreamCapacity,
      defaultReadLimit: o.defaultReadLimit,
      maxReadLimit: o.maxReadLimit,
      maxWaitMs: o.maxWaitMs,
      longPollTimeoutMs: o.longPollTimeoutMs,
      maxSubscribers: o.maxSubscribers,
      heartbeatMs: o.heartbeatMs,
      stallMs: o.stallMs,
      fsync: o.fsync,
      shards: o.shards,
    },
    logger,
    metrics,
    token: o.token,
    cors: o.cors,
    live,
    draining: () => draining,
    snapshotsFailingForMs: () => snapshotter?.failingForMs() ?? 0,
    failClosedForMs: () => {
      if (o.failClosedAfterMs === undefined || snapshotter === undefined) return 0;
      const failingMs = snapshotter.failingForMs();
      return failingMs > 0 && failingMs >= o.failClosedAfterMs ? failingMs : 0;
    },
    executor:
      cluster === undefined
        ? new LocalExecutor(registry, () =>
            snapshotter === undefined ? Promise.resolve() : snapshotter.flushJournal(),
          )
        : { execute: (command, json) => cluster.executor.execute(command, json) },
    cluster,
    snapshotMetrics: () => snapshotter?.metrics(),
    connectionCount: () => guard.count,
  };

  const http = createHttpServer(
    {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.requestTimeoutMs,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      connectionsCheckingInterval: o.connectionsCheckingIntervalMs,
    },
    onRequest,
  );
  const guard = new ConnectionGuard(http, o, metrics, onRequest);
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    inFlight++;
    guard.answering(req, res);
    res.on('close', () => {
      inFlight--;
      if (inFlight === 0) idle?.();
    });
    void handleRequest(req, res, ctx).catch((err: unknown) => {
      logger.error({ err }, 'request handler failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  }

  let url = '';
  let stopSweep: (() => void) | undefined;
  let lockPath: string | undefined;
  let listening: Promise<string> | undefined;
  let closing: Promise<void> | undefined;

  const listen = (): Promise<string> => {
    listening ??= (async () => {
      let createdDataDir = false;
      if (o.dataDir !== undefined) {
        createdDataDir = !(await stat(o.dataDir).then(
          () => true,
          () => false,
        ));
        await mkdir(o.dataDir, { recursive: true });
        lockPath = await lockDataDir(o.dataDir);
      }
      if (cluster !== undefined) {
        try {
          await cluster.start();
        } catch (err) {
          if (lockPath !== undefined) await unlockDataDir(lockPath);
          lockPath = undefined;
          if (createdDataDir && o.dataDir !== undefined)
            await rm(o.dataDir, { recursive: true, force: true });
          throw err;
        }
      }
      if (snapshotter !== undefined) {
        const restored = await snapshotter.restore();
        snapshotter.start();
        logger.info(
          {
            dataDir: o.dataDir,
            shardsRestored: restored,
            streams: registry.streamCount,
            events: registry.eventCount(),
          },
          'data directory restored',
        );
      }
      try {
        await new Promise<void>((resolve, reject) => {
          http.once('error', reject);
          http.listen(o.port, o.host, () => {
            http.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        // Leave nothing behind: the snapshotter stops (nothing new to write), the lock goes, and a data
        // directory this call created goes too.
        await snapshotter?.stop();
        await cluster?.close();
        if (lockPath !== undefined) await unlockDataDir(lockPath);
        lockPath = undefined;
        if (createdDataDir && o.dataDir !== undefined) await rm(o.dataDir, { recursive: true, force: true });
        throw listenFailure(err, o.port, o.host);
      }
      stopSweep = startExpirySweep(registry, ctx.executor, logger);
      const address = http.address() as AddressInfo;
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${h}:${address.port}`;
      logger.info(
        {
          url,
          fsync: o.fsync,
          persistent: snapshotter !== undefined,
          ...(cluster === undefined ? {} : { cluster: cluster.options.nodeId, position: cluster.position() }),
        },
        'listening',
      );
      return url;
    })();
    return listening;
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      stopSweep?.();
      const stopped = new Promise<void>((resolve) => {
        if (!http.listening) resolve();
        else http.close(() => resolve());
      });
      for (const l of [...live]) l.stop();
      http.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, o.drainTimeoutMs);
          idle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      // Idle keep-alive connections, and whatever is still open after the drain budget, are cut.
      http.closeAllConnections();
      await stopped;
      if (snapshotter !== undefined) await snapshotter.stop();
      if (cluster !== undefined) await cluster.close();
      if (lockPath !== undefined) await unlockDataDir(lockPath);
      logger.info({}, 'stopped');
    })();
    return closing;
  };

  return {
    listen,
    close,
    get url() {
      return url;
    },
    store: registry,
    http,
  };
}
