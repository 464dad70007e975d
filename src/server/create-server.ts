// createServer: the event store as an HTTP service (node:http). Composes the stream registry, the
// snapshotter + journal over the data directory, the routes, and the lifecycle: restore before
// listening, drain on close (503 for new requests, in-flight requests finish, live reads end), final
// snapshot, journal closed. Everything runs on one thread; the store path never awaits except for the
// journal flush that acknowledges an append.

import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, unlink } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { type Logger, pino } from 'pino';
import { ErrorCode, EventStoreError } from '../errors.js';
import { DEFAULT_MAX_JSON_DEPTH } from '../json.js';
import { BinarySnapshotSerializer } from '../snapshots/binary-serializer.js';
import { FileSystemSnapshotStore } from '../snapshots/file-system-snapshot-store.js';
import { Snapshotter } from '../snapshots/snapshotter.js';
import type { JournalSyncPolicy } from '../snapshots/types.js';
import { closeSoon } from './body.js';
import { resolveCors } from './cors.js';
import { ServerMetrics } from './metrics.js';
import { HttpProblem, sendProblem } from './problem.js';
import { handleRequest, type LiveResponse, type RouteContext } from './routes.js';
import { type ShardOp, StreamRegistry } from './stream-registry.js';

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
  /** Require `Authorization: Bearer <token>` on every route but /health. @default env LOCKFREE_EVENTSTORE_TOKEN */
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
   * should have persisted is this old), appends and deletes answer 503 `ES_ERR_SNAPSHOTS_FAILING` until
   * a save succeeds; reads keep working. Needs `dataDir`. @default undefined (off: appends go on,
   * kept by the journal, and the failures show in /metrics and the log)
   */
  failClosedAfterMs?: number;
  /** Shards of the data directory (fixed for its life). @default 8 */
  shards?: number;
  /** pino level. @default env LOCKFREE_EVENTSTORE_LOG_LEVEL or 'info' */
  logLevel?: string;
  /** A pino logger to use instead of creating one. */
  logger?: Logger;
}

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

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new EventStoreError(
      ErrorCode.INVALID_ARG,
      `\`${name}\` must be an integer >= ${min}, received ${v}`,
    );
  }
  return v;
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

/** Lock files held by servers of this process. */
const heldLocks = new Set<string>();

/**
 * Takes `<dataDir>/server.lock` (this process's pid). A lock whose process is gone (a crash, kill -9)
 * is taken over; a live one means another server owns the directory, and two writers would corrupt it.
 */
async function lockDataDir(dataDir: string): Promise<string> {
  const path = join(dataDir, 'server.lock');
  if (heldLocks.has(path)) {
    throw new EventStoreError(
      ErrorCode.INVALID_STATE,
      `the data directory ${dataDir} is in use by another server of this process`,
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      heldLocks.add(path);
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    let alive = false;
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) {
      throw new EventStoreError(
        ErrorCode.INVALID_STATE,
        `the data directory ${dataDir} is in use by process ${pid} (${path}); stop it first`,
      );
    }
    await unlink(path).catch(() => {});
  }
  throw new EventStoreError(ErrorCode.INVALID_STATE, `could not lock the data directory ${dataDir}`);
}

/** Creates the server. Nothing is read or bound until `listen()`. */
export function createServer(options: ServerOptions = {}): EventStoreServer {
  const o = options;
  const port = positive('port', o.port, 7070, 0);
  const host = o.host ?? '127.0.0.1';
  const fsync = o.fsync ?? 'everysec';
  if (fsync !== 'always' && fsync !== 'everysec' && fsync !== 'no') {
    throw new EventStoreError(
      ErrorCode.INVALID_ARG,
      `\`fsync\` must be 'always', 'everysec' or 'no', received ${fsync}`,
    );
  }
  const envToken = process.env.LOCKFREE_EVENTSTORE_TOKEN;
  const token = o.token ?? (envToken !== undefined && envToken !== '' ? envToken : undefined);
  const shards = positive('shards', o.shards, 8);
  const logger =
    o.logger ??
    pino({
      name: 'lockfree-eventstore',
      level: o.logLevel ?? process.env.LOCKFREE_EVENTSTORE_LOG_LEVEL ?? 'info',
    });
  const streamCapacity = positive('streamCapacity', o.streamCapacity, 100_000);
  const maxStreamCapacity = positive(
    'maxStreamCapacity',
    o.maxStreamCapacity,
    Math.max(1_000_000, streamCapacity),
  );
  if (streamCapacity > maxStreamCapacity) {
    throw new EventStoreError(
      ErrorCode.INVALID_ARG,
      `\`streamCapacity\` (${streamCapacity}) must not exceed \`maxStreamCapacity\` (${maxStreamCapacity})`,
    );
  }
  const registry = new StreamRegistry({
    shards,
    streamCapacity,
    maxStreams: positive('maxStreams', o.maxStreams, 1_000),
    maxProducersPerStream: positive('maxProducersPerStream', o.maxProducersPerStream, 10_000),
    memoryBudgetBytes: positive(
      'memoryBudgetBytes',
      o.memoryBudgetBytes,
      Math.floor(getHeapStatistics().heap_size_limit / 2),
    ),
    maxTombstones: positive('maxTombstones', o.maxTombstones, 100_000),
  });
  const maxConnections = positive('maxConnections', o.maxConnections, defaultMaxConnections());
  const maxBodyBytes = positive('maxBodyBytes', o.maxBodyBytes, 8 * 1024 * 1024);
  const snapshotter =
    o.dataDir === undefined
      ? undefined
      : new Snapshotter<ShardOp>(
          registry.snapshotTarget(),
          {
            intervalMs: positive('snapshotIntervalMs', o.snapshotIntervalMs, 60_000, 0),
            minEventsBetweenSnapshots: positive('snapshotEveryOps', o.snapshotEveryOps, 50_000, 0),
            snapshotsToKeep: 2,
            journal: { enabled: true, syncPolicy: fsync },
            logger: logger.child({ component: 'snapshots' }),
          },
          new BinarySnapshotSerializer<ShardOp>(),
          new FileSystemSnapshotStore(o.dataDir, { fsyncDirectory: true }),
        );
  const failClosedAfterMs =
    o.failClosedAfterMs === undefined ? undefined : positive('failClosedAfterMs', o.failClosedAfterMs, 0, 0);
  if (failClosedAfterMs !== undefined && snapshotter === undefined) {
    throw new EventStoreError(ErrorCode.INVALID_ARG, '`failClosedAfterMs` needs `dataDir` (snapshots)');
  }
  const metrics = new ServerMetrics();
  /** Open connections, oldest first. */
  const connections = new Set<Socket>();
  /** Connections that sent a whole request head at least once. */
  const spoke = new WeakSet<Socket>();
  const live = new Set<LiveResponse>();
  let draining = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const ctx: RouteContext = {
    registry,
    limits: {
      maxBodyBytes,
      maxJsonDepth: positive('maxJsonDepth', o.maxJsonDepth, DEFAULT_MAX_JSON_DEPTH),
      maxStreamCapacity,
      defaultReadLimit: positive('defaultReadLimit', o.defaultReadLimit, 1_000),
      maxReadLimit: positive('maxReadLimit', o.maxReadLimit, 10_000),
      maxWaitMs: positive('maxWaitMs', o.maxWaitMs, 60_000, 0),
      maxSubscribers: positive(
        'maxSubscribers',
        o.maxSubscribers,
        Math.min(1_000, Math.floor(maxConnections / 2)),
        0,
      ),
      heartbeatMs: positive('heartbeatMs', o.heartbeatMs, 15_000),
      stallMs: positive('stallMs', o.stallMs, 10_000),
      fsync,
      shards,
    },
    logger,
    metrics,
    token,
    cors: resolveCors(o.corsOrigin),
    live,
    draining: () => draining,
    snapshotsFailingForMs: () => snapshotter?.failingForMs() ?? 0,
    failClosedForMs: () => {
      if (failClosedAfterMs === undefined || snapshotter === undefined) return 0;
      const failingMs = snapshotter.failingForMs();
      return failingMs > 0 && failingMs >= failClosedAfterMs ? failingMs : 0;
    },
    flush: () => (snapshotter === undefined ? Promise.resolve() : snapshotter.flushJournal()),
    snapshotMetrics: () => snapshotter?.metrics(),
    connectionCount: () => connections.size,
  };

  /** Responses under way per socket: a parse error on a socket must not write over one of them. */
  const responding = new WeakMap<Socket, number>();
  /** Sockets to close once their responses are done (a client error came while one was under way). */
  const closeWhenDone = new WeakSet<Socket>();

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    inFlight++;
    const socket = req.socket;
    spoke.add(socket);
    responding.set(socket, (responding.get(socket) ?? 0) + 1);
    res.on('close', () => {
      inFlight--;
      const left = (responding.get(socket) ?? 1) - 1;
      responding.set(socket, left);
      if (left === 0 && closeWhenDone.has(socket)) closeSoon(socket);
      if (inFlight === 0) idle?.();
    });
    void handleRequest(req, res, ctx).catch((err: unknown) => {
      logger.error({ err }, 'request handler failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const http = createHttpServer(
    {
      headersTimeout: positive('headersTimeoutMs', o.headersTimeoutMs, 10_000),
      requestTimeout: positive('requestTimeoutMs', o.requestTimeoutMs, 30_000),
      keepAliveTimeout: positive('keepAliveTimeoutMs', o.keepAliveTimeoutMs, 5_000),
      connectionsCheckingInterval: positive(
        'connectionsCheckingIntervalMs',
        o.connectionsCheckingIntervalMs,
        1_000,
      ),
    },
    onRequest,
  );
  // At `maxConnections`, a new connection takes the place of the oldest one that has sent nothing at
  // all (silent ones are also cut by the headers timeout), and is refused only when every connection
  // has spoken: connections that say nothing never lock the others out.
  http.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    if (connections.size <= maxConnections) return;
    for (const other of connections) {
      if (other !== socket && other.bytesRead === 0 && !spoke.has(other)) {
        connections.delete(other);
        other.destroy();
        metrics.silentConnectionsCut++;
        return;
      }
    }
    connections.delete(socket);
    socket.destroy();
    metrics.connectionsRefused++;
  });
  // `Expect: 100-continue`: a body the server would refuse is refused before the client sends it.
  http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      res.on('finish', () => closeSoon(req.socket));
      sendProblem(
        res,
        new HttpProblem(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `the request body is larger than ${maxBodyBytes} bytes`,
          {
            maxBodyBytes,
          },
        ),
        true,
      );
      return;
    }
    res.writeContinue();
    onRequest(req, res);
  });
  http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed requests and timeouts (408, 431, 400) from node's parser: answered if nothing else is
    // being answered on the socket, then the socket is closed and destroyed (a peer that never closes
    // its side must not hold a descriptor); never a crash, never a second response over a first one.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if ((responding.get(socket) ?? 0) > 0) {
      closeWhenDone.add(socket);
      return;
    }
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.write(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
    );
    closeSoon(socket);
  });

  const drainTimeoutMs = positive('drainTimeoutMs', o.drainTimeoutMs, 10_000, 0);
  let url = '';
  let lockPath: string | undefined;
  let listening: Promise<string> | undefined;
  let closing: Promise<void> | undefined;

  const listen = (): Promise<string> => {
    listening ??= (async () => {
      let createdDataDir = false;
      if (snapshotter !== undefined && o.dataDir !== undefined) {
        createdDataDir = !(await stat(o.dataDir).then(
          () => true,
          () => false,
        ));
        await mkdir(o.dataDir, { recursive: true });
        lockPath = await lockDataDir(o.dataDir);
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
          http.listen(port, host, () => {
            http.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        // Leave nothing behind: the snapshotter stops (nothing new to write), the lock goes, and a data
        // directory this call created goes too.
        await snapshotter?.stop();
        if (lockPath !== undefined) {
          await unlink(lockPath).catch(() => {});
          heldLocks.delete(lockPath);
          lockPath = undefined;
        }
        if (createdDataDir && o.dataDir !== undefined) await rm(o.dataDir, { recursive: true, force: true });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new EventStoreError(
            ErrorCode.LISTEN_FAILED,
            code === 'EADDRINUSE'
              ? `port ${port} on ${host} is already in use: stop the program that holds it or choose another port (--port)`
              : code === 'EACCES'
                ? `no permission to listen on port ${port} of ${host}: use a port above 1023 (--port)`
                : `${host} is not an address of this machine (--host)`,
            { cause: err },
          );
        }
        throw err;
      }
      const address = http.address() as AddressInfo;
      const h = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${h}:${address.port}`;
      logger.info({ url, fsync, persistent: snapshotter !== undefined }, 'listening');
      return url;
    })();
    return listening;
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      const stopped = new Promise<void>((resolve) => {
        if (!http.listening) resolve();
        else http.close(() => resolve());
      });
      for (const l of [...live]) l.stop();
      http.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainTimeoutMs);
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
      if (lockPath !== undefined) {
        await unlink(lockPath).catch(() => {});
        heldLocks.delete(lockPath);
      }
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
