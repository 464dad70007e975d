// What the HTTP handlers share: the registry, the resolved limits, metrics, the live responses to end
// at shutdown, and the hooks into persistence (journal flush, snapshot state). Built once by
// createServer; everything runs on the server's one thread.

import type { Logger } from 'pino';
import type { SnapshotterMetrics } from '../../snapshots/types.js';
import type { ServerMetrics } from '../metrics.js';
import type { CommandExecutor } from '../streams/commands.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import type { CorsPolicy } from './cors.js';

/** Limits and timings the handlers use (resolved server options). */
export interface RouteLimits {
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxStreamCapacity: number;
  defaultReadLimit: number;
  maxReadLimit: number;
  maxWaitMs: number;
  /** Durable Streams long-poll wait, and the idle time before an SSE keep-alive control event. */
  longPollTimeoutMs: number;
  maxSubscribers: number;
  heartbeatMs: number;
  stallMs: number;
  fsync: string;
  shards: number;
}

/** Cluster mode, as the HTTP layer sees it (absent on a single node). */
export interface ClusterView {
  /** The last log position this node applied. */
  position(): number;
  /** Whether answers may miss changes the log already holds (the node is cut off from the log). */
  possiblyStale(): boolean;
  /** Waits (bounded) until this node has applied what the log held when called. */
  catchUp(): Promise<void>;
  /** The node's state for `GET /cluster`. */
  status(): Record<string, unknown>;
  /** A digest per stream for `GET /cluster/digest` (equal on nodes at the same position). */
  digests(): Record<string, string>;
}

/** Something that holds a response open (SSE, long-poll) and can be ended at shutdown. */
export interface LiveResponse {
  stop(): void;
}

export interface RouteContext {
  readonly registry: StreamRegistry;
  readonly limits: RouteLimits;
  readonly logger: Logger;
  readonly metrics: ServerMetrics;
  readonly token: string | undefined;
  /** Browser origins allowed to call the server (CORS); none when undefined. */
  readonly cors: CorsPolicy | undefined;
  readonly live: Set<LiveResponse>;
  draining(): boolean;
  /** Age of the oldest change a failed snapshot save should have persisted; 0 when none is failing. */
  snapshotsFailingForMs(): number;
  /** Fail-closed mode: milliseconds snapshots have been failing, if past the threshold; 0 otherwise. */
  failClosedForMs(): number;
  /** Cluster mode: the node's view of the log; undefined on a single node. */
  readonly cluster: ClusterView | undefined;
  /** Runs the commands that change streams (appends, deletes): locally, or through a cluster's log. */
  readonly executor: CommandExecutor;
  snapshotMetrics(): SnapshotterMetrics | undefined;
  /** Open connections now. */
  connectionCount(): number;
}
