// The server's shard ops (ShardOp, src/server/stream-registry.ts) as the offline commands meet them:
// recognised among decoded snapshot or journal events, and replayed into a registry of their own
// through the registry's snapshot target, the same restore and replay the server runs at boot.
// Nothing here touches a file.

import { fromRecord, type ShardOp } from '../server/streams/shard-ops.js';
import { StreamRegistry } from '../server/streams/stream-registry.js';

/**
 * The shard ops of decoded snapshot or journal events (the records of the server's shard-op codec),
 * or `undefined` when any of them is not one.
 */
export function toShardOps(values: readonly unknown[]): ShardOp[] | undefined {
  try {
    return values.map(fromRecord);
  } catch {
    return undefined;
  }
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
    if (op.kind === 'floor') continue;
    streams.add(op.stream);
    if (op.kind === 'batch') events += op.data.length;
    else if (op.kind === 'events') events += op.events.length;
  }
  return { events, streams: streams.size };
}
