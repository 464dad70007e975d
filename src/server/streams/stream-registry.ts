// The server's streams, grouped into a fixed number of shards (stream -> shard by a stable name
// hash), and the SnapshotTarget that lets the generic Snapshotter persist them: a shard's state is a
// list of ops (shard-ops.ts) replayed on restore, and every change is one journaled op, applied by the
// one `#apply` that restore and replay use too. Owned by the server's thread: appends, deletes and
// captures are synchronous steps, so a capture is an exact prefix of the shard's op history. Refusals
// are domain errors (EventStoreError with a code and details); the HTTP layer maps them.

import { hashString, partitionForKey } from '../../core/partitioner.js';
import { ErrorCode, EventStoreError } from '../../errors.js';
import { checkJsonText, stringifyJson } from '../../json.js';
import type { AppendResult, StoredEvent } from '../../protocol.js';
import type { JournalHook, SnapshotTarget } from '../../snapshots/snapshotter.js';
import { EVENT_OVERHEAD_BYTES } from './held-bytes.js';
import {
  checkProducer,
  copyProducers,
  type ProducerRequest,
  recordProducer,
  trimProducers,
} from './producers.js';
import { checkShardOps, encodeBatchWithJson, type ShardOp } from './shard-ops.js';
import { Stream } from './stream.js';

/** An append request, as the registry validates it. */
export interface AppendRequest {
  /** Last offset the stream must have (-1: none ever appended). */
  expectedVersion?: number | undefined;
  producer?: ProducerRequest | undefined;
  /** CRC-32 of the body (compared on producer retries; unused without a producer). */
  hash: number;
  /** Capacity of the stream when this append creates it. */
  capacity?: number | undefined;
  /** Server receive time, epoch ms. */
  timestamp: number;
  /**
   * Estimated heap bytes of the events (the body's text plus per-value costs, see `checkJsonText`):
   * each event is charged an equal share, plus an overhead, against the memory budget.
   */
  bytes: number;
  /**
   * The UTF-8 JSON text of the data values as one array (e.g. the request body of a JSON-array
   * append), if at hand: the JSON journal record embeds these bytes instead of serialising the data
   * again. Must parse to exactly the values given.
   */
  json?: Uint8Array | undefined;
}

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

interface Shard {
  /** Ops applied to the shard ever (restored): its snapshot version and journal sequence. */
  version: number;
  readonly streams: Map<string, Stream>;
  /**
   * Next offset of deleted streams (oldest first), so a re-created stream never reuses an offset.
   * Past the shard's share of `maxTombstones` the oldest fold into `floors`.
   */
  readonly tombstones: Map<string, number>;
  /** Name-hash bucket -> the highest next offset of the tombstones folded into it. */
  readonly floors: Map<number, number>;
}

/** Buckets of tombstone floors per shard. */
const FLOOR_BUCKETS = 256;

function floorBucket(name: string): number {
  return hashString(`floor:${name}`) % FLOOR_BUCKETS;
}

/** Events per `events` op in a snapshot capture (keeps each encoded op small). */
const CAPTURE_CHUNK = 1000;

/** The memory charge of an event known only by its value (ops journaled before charges were recorded). */
function chargeOf(data: unknown): number {
  return (
    checkJsonText(Buffer.from(stringifyJson(data)), Number.POSITIVE_INFINITY, 'an event') +
    EVENT_OVERHEAD_BYTES
  );
}

/** An internal invariant broke (an op for a stream that is not there): never a client's doing. */
function missing(kind: string, name: string): EventStoreError {
  return new EventStoreError(
    ErrorCode.INVALID_STATE,
    `${kind} op for the missing stream ${JSON.stringify(name)}`,
  );
}

export class StreamRegistry {
  readonly options: Readonly<StreamRegistryOptions>;
  readonly #shards: Shard[];
  #hook: JournalHook<ShardOp> | undefined;
  #streamCount = 0;
  #opsApplied = 0;
  /** Sum of every live stream's held charges. */
  #heldBytes = 0;
  /** Readers waiting for a stream of that name to be created. */
  readonly #creationWaiters = new Map<string, Set<() => void>>();
  readonly #tombstonesPerShard: number;
  /** Producer dedupe entries dropped because a stream had `maxProducersPerStream` producers. */
  producersEvicted = 0;

  constructor(options: StreamRegistryOptions) {
    this.options = options;
    this.#tombstonesPerShard = Math.max(1, Math.floor(options.maxTombstones / options.shards));
    this.#shards = Array.from({ length: options.shards }, () => ({
      version: 0,
      streams: new Map(),
      tombstones: new Map(),
      floors: new Map(),
    }));
  }

  get streamCount(): number {
    return this.#streamCount;
  }

  /** Bytes charged for the events every stream holds (see `memoryBudgetBytes`). */
  get heldBytes(): number {
    return this.#heldBytes;
  }

  /** Tombstones kept by name over every shard. */
  get tombstoneCount(): number {
    let n = 0;
    for (const shard of this.#shards) n += shard.tombstones.size;
    return n;
  }

  /** The live stream of that name, if any. */
  get(name: string): Stream | undefined {
    return this.#shards[partitionForKey(name, this.#shards.length)]!.streams.get(name);
  }

  /**
   * Calls `listener` once when a stream named `name` is created (by its first append or a restore).
   * Returns the function that cancels the wait.
   */
  whenCreated(name: string, listener: () => void): () => void {
    let waiters = this.#creationWaiters.get(name);
    if (waiters === undefined) this.#creationWaiters.set(name, (waiters = new Set()));
    waiters.add(listener);
    return () => {
      waiters.delete(listener);
      if (waiters.size === 0 && this.#creationWaiters.get(name) === waiters)
        this.#creationWaiters.delete(name);
    };
  }

  /** Every live stream, by name. */
  list(): Stream[] {
    const all: Stream[] = [];
    for (const shard of this.#shards) for (const s of shard.streams.values()) all.push(s);
    return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Events held over every stream. */
  eventCount(): number {
    let n = 0;
    for (const shard of this.#shards) for (const s of shard.streams.values()) n += s.store.size;
    return n;
  }

  /**
   * Validates and applies an append in one synchronous step (journaled when persistence is on). A
   * producer retry returns the original result (`duplicate`). Throws ES_ERR_PRODUCER_FENCED,
   * ES_ERR_PRODUCER_SEQUENCE, ES_ERR_IDEMPOTENCY_CONFLICT, ES_ERR_WRONG_EXPECTED_VERSION
   * (`currentVersion`), ES_ERR_BAD_REQUEST (a batch larger than the stream), ES_ERR_LIMIT_EXCEEDED
   * (`maxStreams`) or ES_ERR_INSUFFICIENT_STORAGE (the memory budget), changing nothing.
   */
  append(name: string, data: readonly unknown[], req: AppendRequest): AppendResult {
    const shardIndex = partitionForKey(name, this.#shards.length);
    const shard = this.#shards[shardIndex]!;
    const existing = shard.streams.get(name);
    const producer = req.producer;
    let fresh = false;
    if (producer !== undefined) {
      const check = checkProducer(existing?.producers.get(producer.id), producer, req.hash, data.length);
      if (check.kind === 'duplicate') {
        const { firstOffset, lastOffset, count } = check.ack;
        return { stream: name, firstOffset, lastOffset, count, duplicate: true };
      }
      fresh = check.fresh;
    }
    const next = existing?.next ?? shard.tombstones.get(name) ?? shard.floors.get(floorBucket(name)) ?? 0;
    if (req.expectedVersion !== undefined && req.expectedVersion !== next - 1) {
      throw new EventStoreError(
        ErrorCode.WRONG_EXPECTED_VERSION,
        `Expected-Version ${req.expectedVersion} does not match the stream's current version ${next - 1}`,
        { details: { currentVersion: next - 1 } },
      );
    }
    const capacity = existing?.capacity ?? req.capacity ?? this.options.streamCapacity;
    if (data.length > capacity) {
      throw new EventStoreError(
        ErrorCode.BAD_REQUEST,
        `a batch of ${data.length} events is larger than the stream's capacity ${capacity}`,
      );
    }
    if (existing === undefined && this.#streamCount >= this.options.maxStreams) {
      throw new EventStoreError(
        ErrorCode.LIMIT_EXCEEDED,
        `the server holds its maximum of ${this.options.maxStreams} streams`,
      );
    }
    const each = Math.ceil(req.bytes / data.length) + EVENT_OVERHEAD_BYTES;
    const evicted = existing?.held.oldest(Math.max(0, existing.store.size + data.length - capacity)) ?? 0;
    const after = this.#heldBytes + each * data.length - evicted;
    if (after > this.options.memoryBudgetBytes) {
      throw new EventStoreError(
        ErrorCode.INSUFFICIENT_STORAGE,
        `the server's streams would hold ${after} bytes, over its memory budget of ${this.options.memoryBudgetBytes}; delete streams or append to full ones (which evict)`,
        { details: { memoryBudgetBytes: this.options.memoryBudgetBytes, heldBytes: this.#heldBytes } },
      );
    }
    const op: Extract<ShardOp, { kind: 'batch' }> = {
      kind: 'batch',
      stream: name,
      firstOffset: next,
      timestamp: req.timestamp,
      chargeEach: each,
      data: data as unknown[],
    };
    if (producer !== undefined) {
      op.producer = {
        id: producer.id,
        epoch: producer.epoch,
        ack: {
          seq: producer.seq,
          firstOffset: next,
          lastOffset: next + data.length - 1,
          count: data.length,
          hash: req.hash,
        },
      };
    }
    // Encode every op before anything changes: an event the codec refuses changes nothing.
    const hook = this.#hook;
    const createOp: ShardOp | undefined =
      existing === undefined ? { kind: 'create', stream: name, capacity, firstOffset: next } : undefined;
    const encodedCreate = createOp !== undefined ? hook?.encode(createOp) : undefined;
    const encodedAppend =
      hook === undefined
        ? undefined
        : hook.codecName === 'json' && req.json !== undefined
          ? encodeBatchWithJson(op, req.json)
          : hook.encode(op);
    if (createOp !== undefined) this.#record(shardIndex, createOp, encodedCreate);
    this.#record(shardIndex, op, encodedAppend);
    if (fresh) {
      this.producersEvicted += trimProducers(this.get(name)!.producers, this.options.maxProducersPerStream);
    }
    return { stream: name, firstOffset: next, lastOffset: next + data.length - 1, count: data.length };
  }

  /** Deletes a stream (journaled); its next offset is kept so a re-created stream continues after it. */
  delete(name: string): Stream | undefined {
    const shardIndex = partitionForKey(name, this.#shards.length);
    const stream = this.#shards[shardIndex]!.streams.get(name);
    if (stream === undefined) return undefined;
    const op: ShardOp = { kind: 'delete', stream: name };
    this.#record(shardIndex, op, this.#hook?.encode(op));
    return stream;
  }

  #record(shardIndex: number, op: ShardOp, encoded: Uint8Array | undefined): void {
    const shard = this.#shards[shardIndex]!;
    this.#apply(shard, shardIndex, op, false);
    const sequence = shard.version++;
    if (this.#hook !== undefined) this.#hook.appended(shardIndex, sequence, encoded!);
  }

  /** Applies one op. `restored`: the op comes from disk, so its events are already acknowledged. */
  #apply(shard: Shard, shardIndex: number, op: ShardOp, restored: boolean): void {
    this.#opsApplied++;
    switch (op.kind) {
      case 'create': {
        const old = shard.streams.get(op.stream);
        if (old !== undefined) old.close();
        else this.#streamCount++;
        shard.streams.set(op.stream, new Stream(op.stream, op.capacity, shardIndex, op.firstOffset));
        shard.tombstones.delete(op.stream);
        this.#wakeCreationWaiters(op.stream);
        return;
      }
      case 'events':
      case 'batch': {
        const stream = shard.streams.get(op.stream);
        if (stream === undefined) throw missing(op.kind, op.stream);
        const before = stream.held.total;
        if (op.kind === 'events') {
          stream.append(op.events, op.charges ?? op.events.map((e) => chargeOf(e.data)));
        } else {
          const events: StoredEvent[] = new Array(op.data.length);
          for (let i = 0; i < events.length; i++) {
            events[i] = { offset: op.firstOffset + i, timestamp: op.timestamp, data: op.data[i] };
          }
          stream.append(events, op.chargeEach ?? op.data.map(chargeOf));
        }
        this.#heldBytes += stream.held.total - before;
        if (restored) stream.committed = stream.next;
        if (op.producer !== undefined) {
          recordProducer(stream.producers, op.producer.id, op.producer.epoch, op.producer.ack);
        }
        return;
      }
      case 'producers': {
        const stream = shard.streams.get(op.stream);
        if (stream === undefined) throw missing(op.kind, op.stream);
        for (const [id, state] of op.producers) stream.producers.set(id, state);
        return;
      }
      case 'delete': {
        const stream = shard.streams.get(op.stream);
        if (stream === undefined) return;
        shard.streams.delete(op.stream);
        this.#streamCount--;
        this.#heldBytes -= stream.held.total;
        this.#setTombstone(shard, op.stream, stream.next);
        stream.close();
        return;
      }
      case 'tombstone':
        this.#setTombstone(shard, op.stream, op.nextOffset);
        return;
      case 'floor':
        shard.floors.set(op.bucket, Math.max(shard.floors.get(op.bucket) ?? 0, op.nextOffset));
        return;
    }
  }

  /** Wakes the readers waiting for `name`, after this step: a waiter never runs inside an append. */
  #wakeCreationWaiters(name: string): void {
    const waiters = this.#creationWaiters.get(name);
    if (waiters === undefined) return;
    this.#creationWaiters.delete(name);
    queueMicrotask(() => {
      for (const w of waiters) w();
    });
  }

  /** Records a deleted stream's next offset; the oldest tombstones past the bound fold into floors. */
  #setTombstone(shard: Shard, name: string, next: number): void {
    shard.tombstones.delete(name);
    shard.tombstones.set(name, next);
    while (shard.tombstones.size > this.#tombstonesPerShard) {
      const [oldest, at] = shard.tombstones.entries().next().value as [string, number];
      shard.tombstones.delete(oldest);
      const bucket = floorBucket(oldest);
      shard.floors.set(bucket, Math.max(shard.floors.get(bucket) ?? 0, at));
    }
  }

  #captureShard(shard: Shard): ShardOp[] {
    const ops: ShardOp[] = [];
    for (const stream of shard.streams.values()) {
      const held = stream.store.readVersions(0, 0, stream.capacity).events;
      const charges = stream.held.list();
      ops.push({
        kind: 'create',
        stream: stream.name,
        capacity: stream.capacity,
        firstOffset: stream.firstOffset,
      });
      for (let i = 0; i < held.length; i += CAPTURE_CHUNK) {
        ops.push({
          kind: 'events',
          stream: stream.name,
          events: held.slice(i, i + CAPTURE_CHUNK),
          charges: charges.slice(i, i + CAPTURE_CHUNK),
        });
      }
      if (stream.producers.size > 0) {
        ops.push({ kind: 'producers', stream: stream.name, producers: copyProducers(stream.producers) });
      }
    }
    for (const [bucket, nextOffset] of shard.floors) ops.push({ kind: 'floor', bucket, nextOffset });
    for (const [name, nextOffset] of shard.tombstones)
      ops.push({ kind: 'tombstone', stream: name, nextOffset });
    return ops;
  }

  /** The view of the registry that the Snapshotter persists (one snapshot partition per shard). */
  snapshotTarget(): SnapshotTarget<ShardOp> {
    const shards = this.#shards;
    return {
      partitions: shards.length,
      version: (p) => shards[p]!.version,
      mutations: (p) => shards[p]!.version,
      totalAppended: () => this.#opsApplied,
      isPristine: () => shards.every((s) => s.version === 0 && s.streams.size === 0),
      capture: (p) => ({ version: shards[p]!.version, events: this.#captureShard(shards[p]!) }),
      check: (p, ops) => checkShardOps(p, ops),
      restore: (p, ops, version) => {
        const shard = shards[p]!;
        for (const s of shard.streams.values()) {
          this.#heldBytes -= s.held.total;
          s.close();
        }
        this.#streamCount -= shard.streams.size;
        shard.streams.clear();
        shard.tombstones.clear();
        shard.floors.clear();
        for (const op of ops) this.#apply(shard, p, op, true);
        shard.version = version;
      },
      replayAppend: (p, sequence, op) => {
        const shard = shards[p]!;
        if (sequence < shard.version) return 'skipped';
        if (sequence > shard.version) return 'gap';
        this.#apply(shard, p, op, true);
        shard.version++;
        return 'applied';
      },
      replayClear: () => [],
      replayPurge: () => [],
      setJournalHook: (hook) => {
        this.#hook = hook;
      },
    };
  }
}
