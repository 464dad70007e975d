// A cluster node's checkpoint: the whole registry at one position of the log, saved by the generic
// Snapshotter as a single snapshot partition whose version is that position. Every shard is captured
// in the same synchronous step, so one checkpoint is the exact state after applying messages 1..P;
// restore puts every shard back and the node replays the log from P + 1. The checkpoint also names
// its log (the JetStream stream's creation time), so a checkpoint of a deleted and re-created log is
// not restored onto the new one. Runs on the server's thread.
//
//   item (in memory)             record (JSON)
//   { log }                      {"log":"<stream created>"}      first item
//   { shard, op }                {"p":<shard>,"op":{<ShardOp record>}}

import { ErrorCode, EventStoreError } from '../../errors.js';
import type { SnapshotTarget } from '../../snapshots/snapshotter.js';
import type { EventCodec } from '../../snapshots/types.js';
import { checkShardOps, fromRecord, type ShardOp, ShardOpCodec } from '../streams/shard-ops.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import type { LogApplier } from './log-applier.js';

/** One item of a checkpoint: which log it belongs to, or an op of a shard. */
export type CheckpointItem = { log: string } | { shard: number; op: ShardOp };

const shardOps = new ShardOpCodec();
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The codec of checkpoint items (its name keeps checkpoints apart from single-node snapshots). */
export class CheckpointCodec implements EventCodec<CheckpointItem> {
  readonly name = 'cluster-checkpoint';

  encode(item: CheckpointItem): Uint8Array {
    if ('log' in item) return Buffer.from(JSON.stringify({ log: item.log }));
    return Buffer.concat([
      Buffer.from(`{"p":${item.shard},"op":`),
      shardOps.encode(item.op),
      Buffer.from('}'),
    ]);
  }

  decode(bytes: Uint8Array): CheckpointItem {
    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(bytes));
    } catch (err) {
      throw new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, 'a checkpoint item is not JSON', { cause: err });
    }
    const v = value as Record<string, unknown> | null;
    if (typeof v?.log === 'string') return { log: v.log };
    if (v === null || !Number.isSafeInteger(v.p)) {
      throw new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, 'a checkpoint item names no shard');
    }
    return { shard: v.p as number, op: fromRecord(v.op) };
  }
}

/** The ops of each shard, from a checkpoint's items; throws ES_ERR_SNAPSHOT_CORRUPT for a bad one. */
function byShard(items: readonly CheckpointItem[], shards: number): ShardOp[][] {
  const out: ShardOp[][] = Array.from({ length: shards }, () => []);
  for (const item of items) {
    if ('log' in item) continue;
    const ops = out[item.shard];
    if (ops === undefined) {
      throw new EventStoreError(
        ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
        `a checkpoint holds shard ${item.shard}; this node has ${shards} shards`,
      );
    }
    ops.push(item.op);
  }
  return out;
}

/** The log a checkpoint's items belong to. */
function logOf(items: readonly CheckpointItem[]): string | undefined {
  const first = items[0];
  return first !== undefined && 'log' in first ? first.log : undefined;
}

/**
 * The SnapshotTarget of a node's checkpoints: one partition, version = the applied log position.
 * `logId()` names the log the node follows (set once it is known).
 */
export function checkpointTarget(
  registry: StreamRegistry,
  applier: LogApplier,
  log: { id: string | undefined },
): SnapshotTarget<CheckpointItem> {
  const shards = registry.snapshotTarget();
  return {
    partitions: 1,
    version: () => applier.applied,
    mutations: () => applier.applied,
    totalAppended: () => applier.applied,
    isPristine: () => applier.applied === 0 && shards.isPristine(),
    capture: () => {
      const items: CheckpointItem[] = [{ log: log.id ?? '' }];
      for (let p = 0; p < shards.partitions; p++) {
        for (const op of shards.capture(p).events) items.push({ shard: p, op });
      }
      return { version: applier.applied, events: items };
    },
    check: (_p, items) => {
      if (logOf(items) === undefined) {
        throw new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, 'a checkpoint does not name its log');
      }
      for (const [p, ops] of byShard(items, shards.partitions).entries()) checkShardOps(p, ops);
    },
    restore: (_p, items, version) => {
      for (const [p, ops] of byShard(items, shards.partitions).entries()) shards.restore(p, ops, 0);
      applier.restoredAt(version);
      log.id = logOf(items);
    },
    // No journal: the log is the journal.
    replayAppend: () => 'gap',
    replayClear: () => [],
    replayPurge: () => [],
    setJournalHook: () => {},
  };
}
