// What the stream registry hands the modules that validate its protocol writes (stream-create.ts,
// stream-write.ts): lookups, limits, and the one way to change a shard (`record`, which encodes ops,
// applies them through the registry's `#apply` and journals them). Not exported from the package.

import type { ShardOp } from './shard-ops.js';
import type { Stream } from './stream.js';

/** The limits a registry is created with (a cluster's log records them: every node must share them). */
export interface StreamRegistryOptions {
  shards: number;
  streamCapacity: number;
  maxStreams: number;
  maxProducersPerStream: number;
  /** Bytes charged for held events (JSON text plus an overhead each) over all streams, at most. */
  memoryBudgetBytes: number;
  /** Tombstones of deleted streams kept by name; older ones fold into per-bucket floors. */
  maxTombstones: number;
}

export interface RegistryInternals {
  readonly options: Readonly<StreamRegistryOptions>;
  /** The stream of that name, live or deleted but kept for its forks. */
  find(name: string): Stream | undefined;
  shardOf(name: string): number;
  /** Streams held now (live and kept for forks). */
  streamCount(): number;
  /** The offset a new (not forked) stream of that name starts at: after every offset it ever used. */
  nextOffsetFor(name: string): number;
  /** Throws ES_ERR_INSUFFICIENT_STORAGE when `added` more bytes (less `evicted`) exceed the budget. */
  checkBudget(added: number, evicted: number): void;
  /**
   * Encodes `ops` (all of shard `shard`), then applies and journals them in order. `json`: the JSON
   * text of the data of the `batch` op among them, if at hand.
   */
  record(shard: number, ops: readonly ShardOp[], json?: Uint8Array): void;
  /** Deletes `stream` (softly while forks read it), and the deleted sources that frees. */
  remove(stream: Stream): void;
  /** Drops the least recently used producers of `stream` past the limit. */
  trimProducers(stream: Stream): void;
}
