// The HTTP side of cluster mode: the position headers every answer of a cluster node carries, the
// read barrier (every read first lets the node catch up with the log), and the routes GET /cluster
// (the node's state) and GET /cluster/digest (a digest per stream). On a single node the headers are
// not sent, the barrier costs nothing and the routes are 404.

import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../../errors.js';
import type { RouteContext } from './context.js';
import { problem } from './problem.js';
import { sendJson } from './respond.js';

/**
 * Sets `ES-Log-Position` (the log position this node applied) and, when the node is cut off from the
 * log, `ES-Possibly-Stale: true`. Called when a request comes in and again just before a change is
 * answered, so the header is at least the change's own position.
 */
export function stampPosition(res: ServerResponse, ctx: RouteContext): void {
  const c = ctx.cluster;
  if (c === undefined || res.headersSent) return;
  res.setHeader('es-log-position', String(c.position()));
  if (c.possiblyStale()) res.setHeader('es-possibly-stale', 'true');
  else res.removeHeader('es-possibly-stale');
}

/**
 * Read-your-writes across nodes: waits (bounded) until the node has applied what the log holds now,
 * then stamps the position again. Every read takes it, a full page too: a node behind the log would
 * otherwise answer with events another node's writes evicted, a stream another node deleted, or an
 * old end of the stream. Free on a single node.
 */
export async function catchUp(res: ServerResponse, ctx: RouteContext): Promise<void> {
  if (ctx.cluster === undefined) return;
  await ctx.cluster.catchUp();
  stampPosition(res, ctx);
}

/** `GET /cluster` and `GET /cluster/digest`. */
export async function clusterRoute(res: ServerResponse, ctx: RouteContext, path: string): Promise<void> {
  const c = ctx.cluster;
  if (c === undefined) throw problem(ErrorCode.NOT_FOUND, 'this server is not a cluster node (no --cluster)');
  if (path === '/cluster') {
    sendJson(res, 200, c.status());
    return;
  }
  await catchUp(res, ctx);
  sendJson(res, 200, { position: c.position(), streams: c.digests() });
}
