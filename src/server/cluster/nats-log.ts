// The cluster's log on NATS JetStream: the connection (which fails over between the given servers and
// reconnects forever), the stream (file storage, replicated, created by the first node that finds it
// missing), publishes with message-id dedupe and retries, the position of the log's end, and an
// ordered consumer that delivers every message from a sequence on, in order, across reconnects.
// Runs on the server's thread; callbacks are never re-entered.

import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ResolvedClusterOptions } from './cluster-options.js';

/** Why a publish did not return a sequence. */
export class PublishFailure extends Error {
  /** `false`: the message was certainly not stored; `'unknown'`: it may have been. */
  readonly stored: false | 'unknown';

  constructor(message: string, stored: false | 'unknown', cause?: unknown) {
    super(message, { cause });
    this.name = 'PublishFailure';
    this.stored = stored;
  }
}

/** The first and last sequence the log holds (first > last when it is empty). */
export interface LogBounds {
  first: number;
  last: number;
}

/** A delivered message: its sequence and bytes. */
export type EntryListener = (seq: number, data: Uint8Array) => void;

/** JetStream API error code of a stream that already exists with another configuration. */
const STREAM_NAME_IN_USE = 10058;

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1_000;
/**
 * How long one pull of the log's consumer waits on the server. The server sends an idle heartbeat every
 * half of it, and the client recreates the consumer after two missed heartbeats: when the NATS node
 * that held the consumer dies, the node follows the log again after about this long (the client's
 * default, 30 s, left a node a minute behind after a NATS node was killed).
 */
const PULL_EXPIRES_MS = 5_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Runs `attempt` (given the milliseconds left) until it resolves; after an error, again with a growing
 * delay (logged as `retryMessage`), until `timeoutMs` has passed or `stop()` says so: then the last
 * error is thrown. Only for attempts that may be repeated.
 */
async function retryWithBackoff<T>(
  timeoutMs: number,
  attempt: (leftMs: number) => Promise<T>,
  logger: Logger,
  retryMessage: string,
  stop: () => boolean = () => false,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let delay = RETRY_FIRST_MS;
  for (;;) {
    try {
      return await attempt(deadline - performance.now());
    } catch (err) {
      if (stop() || performance.now() + delay > deadline) throw err;
      logger.warn({ err: (err as Error).message }, retryMessage);
    }
    await sleep(delay);
    delay = Math.min(RETRY_MAX_MS, delay * 2);
  }
}

export class NatsLog {
  readonly #options: ResolvedClusterOptions;
  readonly #logger: Logger;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  #connected = true;
  #closed = false;
  readonly #statusListeners = new Set<(connected: boolean) => void>();
  #stopConsumer: (() => void) | undefined;
  /** The next publish window (see `#publishWindow`), while publishes wait for it. */
  #window: Promise<void> | undefined;

  private constructor(
    options: ResolvedClusterOptions,
    logger: Logger,
    nc: NatsConnection,
    jsm: JetStreamManager,
  ) {
    this.#options = options;
    this.#logger = logger;
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
    void this.#watchStatus();
  }

  /**
   * Connects to one of the servers, trying them all again (with a growing delay) until `deadlineMs`
   * has passed: each handshake may take `handshakeMs` (a loaded server answers late), each JetStream
   * API request `requestMs`. Once connected, the connection comes back on its own after every loss.
   */
  static async connect(
    options: ResolvedClusterOptions,
    logger: Logger,
    { handshakeMs, requestMs, deadlineMs }: { handshakeMs: number; requestMs: number; deadlineMs: number },
  ): Promise<NatsLog> {
    const nc = await retryWithBackoff(
      deadlineMs,
      (leftMs) =>
        connect({
          servers: options.servers,
          name: options.origin,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 250,
          reconnectJitter: 100,
          // A first connection that no server accepts fails at once and is retried here, within the
          // deadline (`waitOnFirstConnect` would retry it forever).
          waitOnFirstConnect: false,
          timeout: Math.max(1, Math.min(handshakeMs, leftMs)),
          pingInterval: 2_000,
          maxPingOut: 2,
        }),
      logger,
      'no NATS server answered yet; retrying',
    );
    try {
      const jsm = await jetstreamManager(nc, { timeout: requestMs });
      return new NatsLog(options, logger, nc, jsm);
    } catch (err) {
      await nc.close().catch(() => {});
      throw err;
    }
  }

  /** Whether the connection to NATS is up now. */
  get connected(): boolean {
    return this.#connected && !this.#closed;
  }

  /** The largest message the connected server takes. */
  get maxPayload(): number {
    return this.#nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Calls `listener` when the connection goes down (false) or comes back (true). */
  onStatus(listener: (connected: boolean) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  async #watchStatus(): Promise<void> {
    for await (const s of this.#nc.status()) {
      let connected: boolean | undefined;
      if (s.type === 'disconnect' || s.type === 'staleConnection') connected = false;
      else if (s.type === 'reconnect') connected = true;
      if (connected === undefined || connected === this.#connected) continue;
      this.#connected = connected;
      this.#logger.warn(
        { server: 'server' in s ? s.server : undefined },
        connected ? 'log reconnected' : 'log disconnected',
      );
      for (const l of [...this.#statusListeners]) l(connected);
    }
  }

  /**
   * Creates the log's stream if it is missing (file storage, `replicas`, the duplicate window) and
   * returns its creation time, which names this log (a checkpoint of another log is not restored).
   */
  async ensureStream(timeoutMs: number): Promise<string> {
    return this.retrying(timeoutMs, () => this.#ensureStreamOnce());
  }

  /**
   * Runs `attempt` until it resolves, again (with a growing delay) after each error until `timeoutMs`
   * has passed: while the NATS nodes elect their JetStream leaders, the log answers "jetstream is not
   * enabled" or not at all. Only for attempts that may be repeated.
   */
  retrying<T>(timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
    return retryWithBackoff(
      timeoutMs,
      attempt,
      this.#logger,
      'the log is not available yet; retrying',
      () => this.#closed,
    );
  }

  async #ensureStreamOnce(): Promise<string> {
    const o = this.#options;
    for (;;) {
      try {
        const info = await this.#jsm.streams.info(o.stream);
        if (info.config.num_replicas !== o.replicas) {
          this.#logger.warn(
            { stream: o.stream, replicas: info.config.num_replicas, asked: o.replicas },
            'the log exists with another replica count; keeping it',
          );
        }
        return info.created;
      } catch (err) {
        if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
      }
      try {
        const info = await this.#jsm.streams.add({
          name: o.stream,
          subjects: [o.subject],
          storage: StorageType.File,
          num_replicas: o.replicas,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
          duplicate_window: o.duplicateWindowMs * 1_000_000,
        });
        this.#logger.info({ stream: o.stream, replicas: o.replicas }, 'log created');
        return info.created;
      } catch (err) {
        // Another node created it at the same moment (10058: stream name already in use): read it again.
        if (!(err instanceof JetStreamApiError) || err.code !== STREAM_NAME_IN_USE) throw err;
      }
    }
  }

  /**
   * Publishes `data` with message id `msgId` and resolves with its sequence. Retries (with the same id,
   * so JetStream stores it at most once) until `timeoutMs` has passed. Rejects with a PublishFailure:
   * `stored: false` when the connection was down before anything was sent, else `'unknown'`.
   */
  async publish(data: Uint8Array, msgId: string, timeoutMs: number): Promise<number> {
    if (!this.connected) throw new PublishFailure('the node is not connected to NATS', false);
    const deadline = performance.now() + timeoutMs;
    let delay = RETRY_FIRST_MS;
    let lastError: unknown;
    await this.#publishWindow();
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      try {
        const ack = await this.#js.publish(this.#options.subject, data, {
          msgID: msgId,
          timeout: Math.max(100, Math.min(left, 5_000)),
        });
        return ack.seq;
      } catch (err) {
        lastError = err;
        if (this.#closed) break;
      }
      await sleep(Math.min(delay, Math.max(0, deadline - performance.now())));
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
    throw new PublishFailure(
      `JetStream did not confirm the message within ${timeoutMs} ms: ${(lastError as Error | undefined)?.message ?? 'timeout'}`,
      'unknown',
      lastError,
    );
  }

  /**
   * Resolves in the event loop's check phase, after the I/O callbacks of this turn: the publishes of
   * every request that arrived in the same turn then go out together, in one write to the socket
   * (the client writes what it buffered once per microtask checkpoint), instead of one write each.
   */
  #publishWindow(): Promise<void> {
    this.#window ??= new Promise((resolve) =>
      setImmediate(() => {
        this.#window = undefined;
        resolve();
      }),
    );
    return this.#window;
  }

  /** Publishes `data` only if the log is empty; resolves false when it is not. */
  async publishIfEmpty(data: Uint8Array): Promise<boolean> {
    try {
      await this.#js.publish(this.#options.subject, data, { expect: { lastSequence: 0 } });
      return true;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence)
        return false;
      throw err;
    }
  }

  /** The log's first and last sequence now (asks the stream's leader). */
  async bounds(): Promise<LogBounds> {
    const info = await this.#jsm.streams.info(this.#options.stream);
    return { first: info.state.first_seq, last: info.state.last_seq };
  }

  /** The bytes of message `seq`, or undefined when the log does not hold it. */
  async message(seq: number): Promise<Uint8Array | undefined> {
    const m = await this.#jsm.streams.getMessage(this.#options.stream, { seq });
    return m?.data;
  }

  /**
   * Delivers every message from sequence `from` on to `onEntry`, in order, until stopped or closed.
   * Survives reconnects and leader changes: the consumer is recreated after the last delivered message.
   */
  consume(from: number, onEntry: EntryListener): void {
    let next = from;
    let stopped = false;
    let current: { stop(): void } | undefined;
    this.#stopConsumer = () => {
      stopped = true;
      current?.stop();
    };
    void (async () => {
      let delay = RETRY_FIRST_MS;
      while (!stopped && !this.#closed) {
        try {
          const consumer = await this.#js.consumers.get(this.#options.stream, {
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: next,
          });
          const messages = await consumer.consume({ max_messages: 1_000, expires: PULL_EXPIRES_MS });
          current = { stop: () => void messages.close() };
          if (stopped) messages.stop();
          for await (const m of messages) {
            if (m.seq < next) continue;
            next = m.seq + 1;
            onEntry(m.seq, m.data);
            delay = RETRY_FIRST_MS;
          }
        } catch (err) {
          if (stopped || this.#closed) return;
          this.#logger.warn(
            { err: (err as Error).message, from: next },
            'log consumer failed; recreating it',
          );
        }
        if (stopped || this.#closed) return;
        await sleep(delay);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    })();
  }

  /** Stops the consumer and closes the connection (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopConsumer?.();
    await this.#nc.close().catch(() => {});
  }
}
