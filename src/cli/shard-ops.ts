// The server's shard ops (ShardOp, src/server/stream-registry.ts) as the offline commands meet them:
// recognised among decoded snapshot or journal events, and replayed into a registry of their own
// through the registry's snapshot target, the same restore and replay the server runs at boot.
// Nothing here touches a file.

import { type ShardOp, StreamRegistry } from '../server/stream-registry.js';

const OP_KINDS = new Set(['create', 'append', 'batch', 'producers', 'delete', 'tomb']);

/**
 * Whether a decoded event has the shape of a shard op: a known kind `k` and a stream name `s`, or a
 * tombstone floor (`floor`, with its bucket `b`).
 */
export function isShardOp(value: unknown): value is ShardOp {
  if (typeof value !== 'object' || value === null) return false;
  const op = value as { k?: unknown; s?: unknown; b?: unknown };
  if (op.k === 'floor') return typeof op.b === 'number';
  return typeof op.k === 'string' && OP_KINDS.has(op.k) && typeof op.s === 'string';
}

/**
 * An empty registry with `shards` shards to restore a data directory into. Its limits only guard new
 * appends, which an offline reader never makes, so they are left open.
 */
export function offlineRegistry(shards: number): StreamRegistry {
  return new StreamRegistry({
    shards,
    streamCapacity: 1,
    maxStreams: Number.MAX_SAFE_INTEGER,
    maxProducersPerStream: Number.MAX_SAFE_INTEGER,
    memoryBudgetBytes: Number.MAX_SAFE_INTEGER,
    maxTombstones: Number.MAX_SAFE_INTEGER,
  });
}

/**
 * Streams and held events of one shard snapshot, by restoring its ops into an empty registry.
 * Throws ES_ERR_SNAPSHOT_CORRUPT where the server's restore would refuse them.
 */
export function shardSnapshotContent(
  shard: number,
  shards: number,
  version: number,
  ops: readonly ShardOp[],
): { streams: number; events: number } {
  const registry = offlineRegistry(shards);
  const target = registry.snapshotTarget();
  target.check(shard, ops as ShardOp[], version);
  target.restore(shard, ops as ShardOp[], version);
  return { streams: registry.streamCount, events: registry.eventCount() };
}

/** Stream events appended by journaled ops, and the names of the streams the ops change. */
export function journaledOpsContent(ops: readonly ShardOp[]): { events: number; streams: number } {
  let events = 0;
  const streams = new Set<string>();
  for (const op of ops) {
    if (op.k === 'floor') continue;
    streams.add(op.s);
    if (op.k === 'batch') events += op.d.length;
    else if (op.k === 'append') events += op.ev.length;
  }
  return { events, streams: streams.size };
}
