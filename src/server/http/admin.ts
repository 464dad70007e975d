// The routes around the streams: GET /health, GET /stats, GET /metrics (Prometheus text), GET /streams
// (listing by prefix, paged) and DELETE /streams/{name}.

import type { ServerResponse } from 'node:http';
import type { StreamList } from '../../protocol.js';
import { renderPrometheus } from '../metrics.js';
import { stampPosition } from './cluster.js';
import type { RouteContext } from './context.js';
import { badRequest, integerText } from './params.js';
import { sendJson } from './respond.js';

/** Streams per `GET /streams` page when `limit` is not given, and at most. */
const LIST_LIMIT = 1_000;

/**
 * `GET /streams?prefix=&limit=&after=`: the streams whose name starts with `prefix`, by name, at most
 * `limit`, after the name `after`; `nextAfter` is the `after` of the next page (absent on the last).
 */
export function listStreams(res: ServerResponse, ctx: RouteContext, params: URLSearchParams): void {
  const prefix = params.get('prefix') ?? '';
  const after = params.get('after');
  const limit = Math.min(integerText('limit', params.get('limit')) ?? LIST_LIMIT, LIST_LIMIT);
  if (limit === 0) throw badRequest('limit must be at least 1');
  const matching = ctx.registry
    .list()
    .filter((s) => s.name.startsWith(prefix) && (after === null || s.name > after));
  const list: StreamList = {
    streams: matching.slice(0, limit).map((s) => ({
      name: s.name,
      capacity: s.capacity,
      count: s.committed - Math.min(s.firstOffset, s.committed),
      firstOffset: Math.min(s.firstOffset, s.committed),
      lastOffset: s.committed - 1,
      nextOffset: s.committed,
    })),
  };
  if (matching.length > limit) list.nextAfter = list.streams[list.streams.length - 1]!.name;
  sendJson(res, 200, list);
}

/**
 * `DELETE /streams/{name}`. Works in fail-closed mode: it is how an operator removes a stream that
 * keeps saves failing.
 */
export async function remove(res: ServerResponse, ctx: RouteContext, name: string): Promise<void> {
  const result = await ctx.executor.execute({ type: 'delete', stream: name });
  stampPosition(res, ctx);
  sendJson(res, 200, result);
}

/** `GET /metrics`: Prometheus text. */
export function metrics(res: ServerResponse, ctx: RouteContext): void {
  const text = renderPrometheus({
    metrics: ctx.metrics,
    streams: ctx.registry.streamCount,
    events: ctx.registry.eventCount(),
    producersEvicted: ctx.registry.producersEvicted,
    snapshots: ctx.snapshotMetrics(),
    snapshotsFailingForMs: ctx.snapshotsFailingForMs(),
    failClosed: ctx.failClosedForMs() > 0,
  });
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  res.end(text);
}

/** `GET /stats`: counters, limits in use, persistence and memory. */
export function stats(ctx: RouteContext): Record<string, unknown> {
  const m = ctx.metrics;
  const snap = ctx.snapshotMetrics();
  return {
    uptimeMs: Date.now() - m.startedAt,
    streams: ctx.registry.streamCount,
    events: ctx.registry.eventCount(),
    appendRequests: m.appendRequests,
    appendedEvents: m.appendedEvents,
    duplicateAppends: m.duplicateAppends,
    conflicts: m.conflicts,
    liveSubscribers: m.liveSubscribers,
    longPolls: m.longPolls,
    connections: ctx.connectionCount(),
    silentConnectionsCut: m.silentConnectionsCut,
    connectionsRefused: m.connectionsRefused,
    producersEvicted: ctx.registry.producersEvicted,
    tombstones: ctx.registry.tombstoneCount,
    ...(ctx.cluster === undefined ? {} : { cluster: ctx.cluster.status() }),
    persistence:
      snap === undefined
        ? { enabled: false }
        : {
            enabled: true,
            fsync: ctx.limits.fsync,
            shards: ctx.limits.shards,
            snapshotsSaved: snap.partitions.reduce((n, p) => n + p.successes, 0),
            snapshotFailures: snap.partitions.reduce((n, p) => n + p.failures, 0),
            journalFailures: snap.journalFailures,
            journalRecordsReplayed: snap.journalRecordsReplayed,
            snapshotsFailingForMs: Math.round(ctx.snapshotsFailingForMs()),
            failClosed: ctx.failClosedForMs() > 0,
          },
    memory: {
      rssBytes: process.memoryUsage.rss(),
      heldBytes: ctx.registry.heldBytes,
      memoryBudgetBytes: ctx.registry.options.memoryBudgetBytes,
    },
  };
}
