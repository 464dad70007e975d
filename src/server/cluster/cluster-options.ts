// The options of cluster mode (`serve --cluster …`, `createServer({ cluster })`), validated once into a
// resolved record: a bad value throws ES_ERR_INVALID_ARG naming the option.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { describe, ensureInteger, invalidArg } from '../../errors.js';

/** Cluster mode: the server is one node of a cluster whose source of truth is a NATS JetStream log. */
export interface ClusterOptions {
  /** NATS servers to connect to (`nats://h1:4222`, …); the client fails over between them. */
  servers: readonly string[];
  /** Replicas of the JetStream stream when this node creates it (1, 3 or 5 in practice). @default 3 */
  replicas?: number;
  /** This node's name in `/cluster`, logs and the log's messages. @default `<hostname>-<pid>` */
  nodeId?: string;
  /** Name of the JetStream stream that is the log. @default 'LFES_LOG' */
  stream?: string;
  /** Subject the log's messages are published on. @default 'lfes.log' */
  subject?: string;
  /**
   * How long a change waits for JetStream to store it (publishes are retried with the same message
   * id within this time) and then for this node to apply it. @default 10_000
   */
  writeTimeoutMs?: number;
  /**
   * How long a read waits for this node to apply what the log held when the read came in
   * (read-your-writes across nodes). @default 5_000
   */
  readWaitMs?: number;
  /** JetStream's duplicate window for the message ids of publish retries. @default 120_000 */
  duplicateWindowMs?: number;
  /**
   * How long a starting node waits for the log: for a NATS server to accept its connection, then for
   * JetStream to find or create the log (while the NATS nodes elect their leaders). Past it the start
   * fails with ES_ERR_LOG_UNAVAILABLE (`serve` exits 1); replaying the log after that takes as long as
   * it takes. @default 30_000
   */
  startTimeoutMs?: number;
}

/** {@link ClusterOptions} with every default filled in and every value checked. */
export interface ResolvedClusterOptions {
  servers: string[];
  replicas: number;
  nodeId: string;
  /** `nodeId` plus a random suffix per process: marks the messages this process published. */
  origin: string;
  stream: string;
  subject: string;
  writeTimeoutMs: number;
  readWaitMs: number;
  duplicateWindowMs: number;
  startTimeoutMs: number;
}

const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const NODE_ID = /^[\x21-\x7e]{1,100}$/;

/** Checks every cluster option and fills in the defaults. */
export function resolveClusterOptions(o: ClusterOptions): ResolvedClusterOptions {
  if (typeof o !== 'object' || o === null) throw invalidArg('`cluster` must be an object');
  const servers = typeof o.servers === 'string' ? [o.servers] : o.servers;
  if (!Array.isArray(servers) || servers.length === 0) {
    throw invalidArg(`\`cluster.servers\` must list at least one NATS URL, received ${describe(o.servers)}`);
  }
  for (const s of servers) {
    let url: URL | undefined;
    try {
      url = typeof s === 'string' ? new URL(s) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || !['nats:', 'tls:'].includes(url.protocol) || url.hostname === '') {
      throw invalidArg(`\`cluster.servers\` must be nats:// or tls:// URLs, received ${describe(s)}`);
    }
  }
  const nodeId = o.nodeId ?? `${hostname()}-${process.pid}`;
  if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) {
    throw invalidArg(
      `\`cluster.nodeId\` must be 1-100 visible ASCII characters, received ${describe(nodeId)}`,
    );
  }
  const stream = o.stream ?? 'LFES_LOG';
  if (typeof stream !== 'string' || !STREAM_NAME.test(stream)) {
    throw invalidArg(`\`cluster.stream\` must be 1-64 letters, digits, _ or -, received ${describe(stream)}`);
  }
  const subject = o.subject ?? 'lfes.log';
  if (typeof subject !== 'string' || !SUBJECT.test(subject)) {
    throw invalidArg(
      `\`cluster.subject\` must be a NATS subject without wildcards, received ${describe(subject)}`,
    );
  }
  return {
    servers: [...servers],
    replicas: ensureInteger('cluster.replicas', o.replicas ?? 3, 1, 5),
    nodeId,
    origin: `${nodeId}/${randomBytes(6).toString('hex')}`,
    stream,
    subject,
    writeTimeoutMs: ensureInteger('cluster.writeTimeoutMs', o.writeTimeoutMs ?? 10_000, 1),
    readWaitMs: ensureInteger('cluster.readWaitMs', o.readWaitMs ?? 5_000, 0),
    duplicateWindowMs: ensureInteger('cluster.duplicateWindowMs', o.duplicateWindowMs ?? 120_000, 1_000),
    startTimeoutMs: ensureInteger('cluster.startTimeoutMs', o.startTimeoutMs ?? 30_000, 1),
  };
}
