// The options of createServer, and their validation into one resolved record (defaults filled in,
// every value checked once, at creation: a bad value throws ES_ERR_INVALID_ARG naming the option).

import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';
import { ensureInteger, ensureSyncPolicy, invalidArg } from '../errors.js';
import { DEFAULT_MAX_JSON_DEPTH } from '../json.js';
import type { JournalSyncPolicy } from '../snapshots/types.js';
import {
  type ClusterOptions,
  type ResolvedClusterOptions,
  resolveClusterOptions,
} from './cluster/cluster-options.js';
import { type CorsPolicy, resolveCors } from './http/cors.js';

/** Options of {@link createServer}. Every duration is in milliseconds. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. @default 7070 */
  port?: number;
  /** Interface to bind. @default '127.0.0.1' */
  host?: string;
  /** Directory of snapshots and the journal; without it the server keeps nothing across restarts. */
  dataDir?: string;
  /** Journal fsync policy: 'always' (zero loss on power failure), 'everysec', 'no'. @default 'everysec' */
  fsync?: JournalSyncPolicy;
  /** Require `Authorization: Bearer <token>` on every route but /health. @default env LFES_TOKEN (or LOCKFREE_EVENTSTORE_TOKEN) */
  token?: string;
  /**
   * Lets browser pages of other origins call the server: `'*'`, one origin (`https://app.example`),
   * or several (a comma-separated string or an array). A request from an allowed origin gets CORS
   * headers naming its own origin (with `Vary: Origin`), and `OPTIONS` preflights are answered.
   * Origins are checked at creation: scheme, host and optional port, no path or trailing slash.
   * @default none (same-origin pages and non-browser clients only)
   */
  corsOrigin?: string | readonly string[];
  /** Events a stream holds before it evicts its oldest. @default 100_000 */
  streamCapacity?: number;
  /** Largest `?capacity=` a first append may ask for. @default max(1_000_000, streamCapacity) */
  maxStreamCapacity?: number;
  /** Live streams at most. @default 1_000 */
  maxStreams?: number;
  /**
   * Bytes the events of all streams may hold, counted as each event's share of its request body plus
   * 160 bytes; an append past it answers 507 `ES_ERR_INSUFFICIENT_STORAGE` (appends that evict as much
   * as they add always fit). @default half of the V8 heap limit
   */
  memoryBudgetBytes?: number;
  /** Deleted streams remembered by name; older ones fold into shared offset floors. @default 100_000 */
  maxTombstones?: number;
  /** Largest request body. @default 8 MiB */
  maxBodyBytes?: number;
  /** Deepest nesting of arrays and objects in an event's JSON (400 `ES_ERR_JSON_TOO_DEEP` past it). @default 128 */
  maxJsonDepth?: number;
  /** Events per read when `limit` is not given. @default 1_000 */
  defaultReadLimit?: number;
  /** Largest `limit` (larger values are clamped). @default 10_000 */
  maxReadLimit?: number;
  /** Largest long-poll `wait` (larger values are clamped). @default 60_000 */
  maxWaitMs?: number;
  /**
   * How long a Durable Streams long-poll (`GET /v1/stream/{name}?live=long-poll`) waits for new data
   * before answering `204`; also the idle time after which an SSE tail of that endpoint gets a
   * keep-alive control event. Short enough for the protocol's conformance suite (whose long-polls
   * must end within its 5 s test timeout). @default 3_000
   */
  longPollTimeoutMs?: number;
  /** Open SSE subscriptions and waiting long-polls together, at most. @default min(1_000, maxConnections / 2) */
  maxSubscribers?: number;
  /** Producer ids remembered per stream (least recently used dropped first). @default 10_000 */
  maxProducersPerStream?: number;
  /** SSE heartbeat comment interval. @default 15_000 */
  heartbeatMs?: number;
  /** A live reader that accepts no data for this long is disconnected. @default 10_000 */
  stallMs?: number;
  /** Time to receive the request headers. @default 10_000 */
  headersTimeoutMs?: number;
  /** Time to receive the whole request (not the response). @default 30_000 */
  requestTimeoutMs?: number;
  /** Idle keep-alive connection lifetime. @default 5_000 */
  keepAliveTimeoutMs?: number;
  /** How often timeouts are checked (slow-loris connections are cut within this). @default 1_000 */
  connectionsCheckingIntervalMs?: number;
  /**
   * Open connections at most; excess ones are refused. @default the process's open-file limit minus
   * 128 (kept for files), between 64 and 10_000
   */
  maxConnections?: number;
  /** How long close() waits for in-flight requests before cutting connections. @default 10_000 */
  drainTimeoutMs?: number;
  /** Snapshot time trigger. @default 60_000 */
  snapshotIntervalMs?: number;
  /** Snapshot trigger by shard changes (appends, creates, deletes). @default 50_000 */
  snapshotEveryOps?: number;
  /**
   * Fail-closed mode: once snapshots have been failing for this long (the oldest change a failed save
   * should have persisted is this old), appends answer 503 `ES_ERR_SNAPSHOTS_FAILING` until a save
   * succeeds; reads and deletes keep working. Needs `dataDir`. @default undefined (off: appends go on,
   * kept by the journal, and the failures show in /metrics and the log)
   */
  failClosedAfterMs?: number;
  /** Shards of the data directory (fixed for its life). @default 8 */
  shards?: number;
  /** pino level. @default env LFES_LOG_LEVEL (or LOCKFREE_EVENTSTORE_LOG_LEVEL), else 'info' */
  logLevel?: string;
  /** A pino logger to use instead of creating one. */
  logger?: Logger;
  /**
   * Cluster mode: the server is one node of a cluster whose source of truth is a NATS JetStream log
   * (docs/architecture.md, "Cluster mode"). `dataDir` then holds this node's checkpoints (no journal;
   * `fsync` is not used), taken every `snapshotIntervalMs` or `snapshotEveryOps` log messages.
   * @default undefined (a single node with its own journal)
   */
  cluster?: ClusterOptions;
}

/** {@link ServerOptions} with every default filled in and every value checked. */
export interface ResolvedServerOptions {
  port: number;
  host: string;
  dataDir: string | undefined;
  fsync: JournalSyncPolicy;
  token: string | undefined;
  cors: CorsPolicy | undefined;
  streamCapacity: number;
  maxStreamCapacity: number;
  maxStreams: number;
  memoryBudgetBytes: number;
  maxTombstones: number;
  maxBodyBytes: number;
  maxJsonDepth: number;
  defaultReadLimit: number;
  maxReadLimit: number;
  maxWaitMs: number;
  longPollTimeoutMs: number;
  maxSubscribers: number;
  maxProducersPerStream: number;
  heartbeatMs: number;
  stallMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionsCheckingIntervalMs: number;
  maxConnections: number;
  drainTimeoutMs: number;
  snapshotIntervalMs: number;
  snapshotEveryOps: number;
  failClosedAfterMs: number | undefined;
  shards: number;
  logLevel: string;
  logger: Logger | undefined;
  cluster: ResolvedClusterOptions | undefined;
}

/** The soft limit on open files of this process (Linux: /proc/self/limits), if it can be read. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Default `maxConnections`: what the open-file limit allows, keeping 128 descriptors for files. */
function defaultMaxConnections(): number {
  const limit = openFileLimit() ?? 1_152;
  return Math.max(64, Math.min(10_000, limit - 128));
}

/** An environment variable, or its older name; empty counts as unset. */
function env(name: string, olderName: string): string | undefined {
  const v = process.env[name] ?? process.env[olderName];
  return v === undefined || v === '' ? undefined : v;
}

/** Checks every option and fills in the defaults. */
export function resolveServerOptions(o: ServerOptions): ResolvedServerOptions {
  if (typeof o !== 'object' || o === null) throw invalidArg('`options` must be an object');
  const streamCapacity = ensureInteger('streamCapacity', o.streamCapacity ?? 100_000, 1);
  const maxStreamCapacity = ensureInteger(
    'maxStreamCapacity',
    o.maxStreamCapacity ?? Math.max(1_000_000, streamCapacity),
    1,
  );
  if (streamCapacity > maxStreamCapacity) {
    throw invalidArg(
      `\`streamCapacity\` (${streamCapacity}) must not exceed \`maxStreamCapacity\` (${maxStreamCapacity})`,
    );
  }
  const maxConnections = ensureInteger('maxConnections', o.maxConnections ?? defaultMaxConnections(), 1);
  const failClosedAfterMs =
    o.failClosedAfterMs === undefined
      ? undefined
      : ensureInteger('failClosedAfterMs', o.failClosedAfterMs, 0);
  if (failClosedAfterMs !== undefined && o.dataDir === undefined) {
    throw invalidArg('`failClosedAfterMs` needs `dataDir` (snapshots)');
  }
  if (failClosedAfterMs !== undefined && o.cluster !== undefined) {
    throw invalidArg(
      '`failClosedAfterMs` is not used in cluster mode: the log, not the snapshots, keeps changes',
    );
  }
  return {
    port: ensureInteger('port', o.port ?? 7070, 0, 65_535),
    host: o.host ?? '127.0.0.1',
    dataDir: o.dataDir,
    fsync: ensureSyncPolicy('fsync', o.fsync, 'everysec'),
    token: o.token ?? env('LFES_TOKEN', 'LOCKFREE_EVENTSTORE_TOKEN'),
    cors: resolveCors(o.corsOrigin),
    streamCapacity,
    maxStreamCapacity,
    maxStreams: ensureInteger('maxStreams', o.maxStreams ?? 1_000, 1),
    memoryBudgetBytes: ensureInteger(
      'memoryBudgetBytes',
      o.memoryBudgetBytes ?? Math.floor(getHeapStatistics().heap_size_limit / 2),
      1,
    ),
    maxTombstones: ensureInteger('maxTombstones', o.maxTombstones ?? 100_000, 1),
    maxBodyBytes: ensureInteger('maxBodyBytes', o.maxBodyBytes ?? 8 * 1024 * 1024, 1),
    maxJsonDepth: ensureInteger('maxJsonDepth', o.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH, 1),
    defaultReadLimit: ensureInteger('defaultReadLimit', o.defaultReadLimit ?? 1_000, 1),
    maxReadLimit: ensureInteger('maxReadLimit', o.maxReadLimit ?? 10_000, 1),
    maxWaitMs: ensureInteger('maxWaitMs', o.maxWaitMs ?? 60_000, 0),
    longPollTimeoutMs: ensureInteger('longPollTimeoutMs', o.longPollTimeoutMs ?? 3_000, 1, 3_600_000),
    maxSubscribers: ensureInteger(
      'maxSubscribers',
      o.maxSubscribers ?? Math.min(1_000, Math.floor(maxConnections / 2)),
      0,
    ),
    maxProducersPerStream: ensureInteger('maxProducersPerStream', o.maxProducersPerStream ?? 10_000, 1),
    heartbeatMs: ensureInteger('heartbeatMs', o.heartbeatMs ?? 15_000, 1),
    stallMs: ensureInteger('stallMs', o.stallMs ?? 10_000, 1),
    headersTimeoutMs: ensureInteger('headersTimeoutMs', o.headersTimeoutMs ?? 10_000, 1),
    requestTimeoutMs: ensureInteger('requestTimeoutMs', o.requestTimeoutMs ?? 30_000, 1),
    keepAliveTimeoutMs: ensureInteger('keepAliveTimeoutMs', o.keepAliveTimeoutMs ?? 5_000, 1),
    connectionsCheckingIntervalMs: ensureInteger(
      'connectionsCheckingIntervalMs',
      o.connectionsCheckingIntervalMs ?? 1_000,
      1,
    ),
    maxConnections,
    drainTimeoutMs: ensureInteger('drainTimeoutMs', o.drainTimeoutMs ?? 10_000, 0),
    snapshotIntervalMs: ensureInteger('snapshotIntervalMs', o.snapshotIntervalMs ?? 60_000, 0),
    snapshotEveryOps: ensureInteger('snapshotEveryOps', o.snapshotEveryOps ?? 50_000, 0),
    failClosedAfterMs,
    shards: ensureInteger('shards', o.shards ?? 8, 1),
    logLevel: o.logLevel ?? env('LFES_LOG_LEVEL', 'LOCKFREE_EVENTSTORE_LOG_LEVEL') ?? 'info',
    logger: o.logger,
    cluster: o.cluster === undefined ? undefined : resolveClusterOptions(o.cluster),
  };
}
