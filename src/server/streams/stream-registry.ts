// The server's streams, grouped into a fixed number of shards (stream -> shard by a stable name
// hash), and the SnapshotTarget that lets the generic Snapshotter persist them: a shard's state is a
// list of JSON ops (create, append, producers, tombstone) replayed on restore, and every change is one
// journaled op. An append request is journaled as a `batch` op whose data array is the request body's
// own JSON text, spliced into the record instead of being serialised again. Owned by the server's
// thread: appends, deletes and captures are synchronous steps, so a capture is an exact prefix of the
// shard's op history.

import { hashString, partitionForKey } from '../core/partitioner.js';
import { ErrorCode, EventStoreError } from '../errors.js';
import { checkJsonText, stringifyJson } from '../json.js';
import type { JournalHook, SnapshotTarget } from '../snapshots/snapshotter.js';
import { EVENT_OVERHEAD_BYTES } from './held-bytes.js';
import { HttpProblem } from './problem.js';
import { PRODUCER_WINDOW, type ProducerAck, type ProducerState, type StoredEvent, Stream } from './stream.js';

/** One change of a shard, as journaled and as captured in a snapshot. JSON-compatible. */
export type ShardOp =
  | { k: 'create'; s: string; cap: number; next: number }
  /** Held events of a snapshot, with the memory charge `c` of each. */
  | { k: 'append'; s: string; ev: StoredEvent[]; p?: ProducerOp; c?: number[] }
  /**
   * One append request: events `o`, `o + 1`, … with one receive time `t` and data values `d`, each
   * charged `b` bytes against the memory budget.
   */
  | { k: 'batch'; s: string; o: number; t: number; p?: ProducerOp; b?: number; d: unknown[] }
  | { k: 'producers'; s: string; list: [string, ProducerState][] }
  | { k: 'delete'; s: string }
  | { k: 'tomb'; s: string; next: number }
  /** Tombstones folded into a floor: a new stream whose name hashes to bucket `b` starts at `next`. */
  | { k: 'floor'; b: number; next: number };

/** The producer state an append op records. */
interface ProducerOp {
  id: string;
  epoch: number;
  ack: ProducerAck;
}

/** Identity of an idempotent producer request. */
export interface ProducerRequest {
  id: string;
  epoch: number;
  seq: number;
}

export interface AppendRequest {
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

export interface AppendResult {
  stream: string;
  firstOffset: number;
  lastOffset: number;
  count: number;
  duplicate?: true;
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

/** Events per `append` op in a snapshot capture (keeps each encoded op small). */
const CAPTURE_CHUNK = 1000;

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
   * Validates and applies an append in one synchronous step (journaled when persistence is on).
   * Throws an HttpProblem for a conflict or a limit; a producer retry returns the original result.
   */
  append(name: string, data: readonly unknown[], req: AppendRequest): AppendResult {
    const shardIndex = partitionForKey(name, this.#shards.length);
    const shard = this.#shards[shardIndex]!;
    const existing = shard.streams.get(name);
    const producer = req.producer;
    let fresh = false;
    if (producer !== undefined) {
      const state = existing?.producers.get(producer.id);
      if (state === undefined || producer.epoch > state.epoch) fresh = true;
      else if (producer.epoch < state.epoch) {
        throw new HttpProblem(
          ErrorCode.PRODUCER_FENCED,
          `producer ${JSON.stringify(producer.id)} epoch ${producer.epoch} is fenced by epoch ${state.epoch}`,
          { currentEpoch: state.epoch },
        );
      } else if (producer.seq <= state.lastSeq) {
        const ack = state.recent.find((a) => a.seq === producer.seq);
        if (ack === undefined) {
          throw new HttpProblem(
            ErrorCode.PRODUCER_SEQUENCE,
            `producer sequence ${producer.seq} is older than the dedupe window (last ${state.lastSeq}, window ${PRODUCER_WINDOW})`,
            { expectedSeq: state.lastSeq + 1 },
          );
        }
        if (ack.hash !== req.hash || ack.count !== data.length) {
          throw new HttpProblem(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            `producer sequence ${producer.seq} was already appended with a different body`,
            { firstOffset: ack.firstOffset, lastOffset: ack.lastOffset },
          );
        }
        return {
          stream: name,
          firstOffset: ack.firstOffset,
          lastOffset: ack.lastOffset,
          count: ack.count,
          duplicate: true,
        };
      } else if (producer.seq !== state.lastSeq + 1) {
        throw new HttpProblem(
          ErrorCode.PRODUCER_SEQUENCE,
          `producer sequence ${producer.seq} skips ahead; expected ${state.lastSeq + 1}`,
          { expectedSeq: state.lastSeq + 1 },
        );
      }
    }
    const next = existing?.next ?? shard.tombstones.get(name) ?? shard.floors.get(floorBucket(name)) ?? 0;
    if (req.expectedVersion !== undefined && req.expectedVersion !== next - 1) {
      throw new HttpProblem(
        ErrorCode.WRONG_EXPECTED_VERSION,
        `Expected-Version ${req.expectedVersion} does not match the stream's current version ${next - 1}`,
        { currentVersion: next - 1 },
        { 'es-current-version': String(next - 1) },
      );
    }
    const capacity = existing?.capacity ?? req.capacity ?? this.options.streamCapacity;
    if (data.length > capacity) {
      throw new HttpProblem(
        ErrorCode.BAD_REQUEST,
        `a batch of ${data.length} events is larger than the stream's capacity ${capacity}`,
      );
    }
    if (existing === undefined && this.#streamCount >= this.options.maxStreams) {
      throw new HttpProblem(
        ErrorCode.LIMIT_EXCEEDED,
        `the server holds its maximum of ${this.options.maxStreams} streams`,
      );
    }
    const each = Math.ceil(req.bytes / data.length) + EVENT_OVERHEAD_BYTES;
    const evicted = existing?.held.oldest(Math.max(0, existing.store.size + data.length - capacity)) ?? 0;
    const after = this.#heldBytes + each * data.length - evicted;
    if (after > this.options.memoryBudgetBytes) {
      throw new HttpProblem(
        ErrorCode.INSUFFICIENT_STORAGE,
        `the server's streams would hold ${after} bytes, over its memory budget of ${this.options.memoryBudgetBytes}; delete streams or append to full ones (which evict)`,
        { memoryBudgetBytes: this.options.memoryBudgetBytes, heldBytes: this.#heldBytes },
      );
    }
    const op: ShardOp = { k: 'batch', s: name, o: next, t: req.timestamp, b: each, d: data as unknown[] };
    if (producer !== undefined) {
      op.p = {
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
      existing === undefined ? { k: 'create', s: name, cap: capacity, next } : undefined;
    const encodedCreate = createOp !== undefined ? hook?.encode(createOp) : undefined;
    const encodedAppend =
      hook === undefined
        ? undefined
        : hook.codecName === 'json' && req.json !== undefined
          ? encodeBatchJson(op, req.json)
          : hook.encode(op);
    if (createOp !== undefined) this.#record(shardIndex, createOp, encodedCreate);
    this.#record(shardIndex, op, encodedAppend);
    if (fresh && producer !== undefined) this.#trimProducers(this.get(name)!);
    return { stream: name, firstOffset: next, lastOffset: next + data.length - 1, count: data.length };
  }

  /** Deletes a stream (journaled); its next offset is kept so a re-created stream continues after it. */
  delete(name: string): Stream | undefined {
    const shardIndex = partitionForKey(name, this.#shards.length);
    const stream = this.#shards[shardIndex]!.streams.get(name);
    if (stream === undefined) return undefined;
    const op: ShardOp = { k: 'delete', s: name };
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
    switch (op.k) {
      case 'create': {
        const old = shard.streams.get(op.s);
        if (old !== undefined) old.close();
        else this.#streamCount++;
        shard.streams.set(op.s, new Stream(op.s, op.cap, shardIndex, op.next));
        shard.tombstones.delete(op.s);
        const waiters = this.#creationWaiters.get(op.s);
        if (waiters !== undefined) {
          // After this step: a waiter never runs in the middle of an append.
          this.#creationWaiters.delete(op.s);
          queueMicrotask(() => {
            for (const w of waiters) w();
          });
        }
        return;
      }
      case 'append': {
        const stream = shard.streams.get(op.s);
        if (stream === undefined) throw new Error(`append op for missing stream ${op.s}`);
        const before = stream.held.total;
        stream.append(op.ev, op.c ?? op.ev.map((e) => chargeOf(e.data)));
        this.#heldBytes += stream.held.total - before;
        if (restored) stream.committed = stream.next;
        if (op.p !== undefined) this.#recordProducer(stream, op.p);
        return;
      }
      case 'batch': {
        const stream = shard.streams.get(op.s);
        if (stream === undefined) throw new Error(`batch op for missing stream ${op.s}`);
        const ev: StoredEvent[] = new Array(op.d.length);
        for (let i = 0; i < ev.length; i++) ev[i] = { offset: op.o + i, timestamp: op.t, data: op.d[i] };
        const before = stream.held.total;
        stream.append(ev, op.b ?? op.d.map(chargeOf));
        this.#heldBytes += stream.held.total - before;
        if (restored) stream.committed = stream.next;
        if (op.p !== undefined) this.#recordProducer(stream, op.p);
        return;
      }
      case 'producers': {
        const stream = shard.streams.get(op.s);
        if (stream === undefined) throw new Error(`producers op for missing stream ${op.s}`);
        for (const [id, state] of op.list) stream.producers.set(id, state);
        return;
      }
      case 'delete': {
        const stream = shard.streams.get(op.s);
        if (stream === undefined) return;
        shard.streams.delete(op.s);
        this.#streamCount--;
        this.#heldBytes -= stream.held.total;
        this.#setTombstone(shard, op.s, stream.next);
        stream.close();
        return;
      }
      case 'tomb':
        this.#setTombstone(shard, op.s, op.next);
        return;
      case 'floor':
        shard.floors.set(op.b, Math.max(shard.floors.get(op.b) ?? 0, op.next));
        return;
    }
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

  #recordProducer(stream: Stream, { id, epoch, ack }: ProducerOp): void {
    let state = stream.producers.get(id);
    if (state === undefined || state.epoch !== epoch) state = { epoch, lastSeq: ack.seq, recent: [] };
    // Re-inserted so the map's order is least recently used first (for trimming).
    stream.producers.delete(id);
    stream.producers.set(id, state);
    state.lastSeq = ack.seq;
    state.recent.push(ack);
    if (state.recent.length > PRODUCER_WINDOW) state.recent.shift();
  }

  #trimProducers(stream: Stream): void {
    while (stream.producers.size > this.options.maxProducersPerStream) {
      const oldest = stream.producers.keys().next().value as string;
      stream.producers.delete(oldest);
      this.producersEvicted++;
    }
  }

  #captureShard(shard: Shard): ShardOp[] {
    const ops: ShardOp[] = [];
    for (const stream of shard.streams.values()) {
      const held = stream.store.readVersions(0, 0, stream.capacity).events;
      const charges = stream.held.list();
      ops.push({ k: 'create', s: stream.name, cap: stream.capacity, next: stream.firstOffset });
      for (let i = 0; i < held.length; i += CAPTURE_CHUNK) {
        ops.push({
          k: 'append',
          s: stream.name,
          ev: held.slice(i, i + CAPTURE_CHUNK),
          c: charges.slice(i, i + CAPTURE_CHUNK),
        });
      }
      if (stream.producers.size > 0) {
        const list: [string, ProducerState][] = [];
        for (const [id, p] of stream.producers) {
          list.push([id, { epoch: p.epoch, lastSeq: p.lastSeq, recent: p.recent.slice() }]);
        }
        ops.push({ k: 'producers', s: stream.name, list });
      }
    }
    for (const [b, next] of shard.floors) ops.push({ k: 'floor', b, next });
    for (const [s, next] of shard.tombstones) ops.push({ k: 'tomb', s, next });
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

/**
 * Throws ES_ERR_SNAPSHOT_CORRUPT unless `ops` replay cleanly onto an empty shard: every op is of a
 * known kind, and every append continues the offsets of a stream created before it. Changes nothing.
 */
function checkShardOps(shard: number, ops: readonly ShardOp[]): void {
  const next = new Map<string, number>();
  const bad = (i: number, why: string): EventStoreError =>
    new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid snapshot of shard ${shard}: op ${i} ${why}`);
  ops.forEach((op, i) => {
    if (typeof op !== 'object' || op === null) throw bad(i, 'is not an op');
    if (op.k === 'floor') {
      if (!Number.isSafeInteger(op.b) || !Number.isSafeInteger(op.next)) throw bad(i, 'is a bad floor');
      return;
    }
    if (typeof op.s !== 'string') throw bad(i, 'names no stream');
    switch (op.k) {
      case 'create':
        if (!Number.isSafeInteger(op.cap) || op.cap < 1 || !Number.isSafeInteger(op.next) || op.next < 0)
          throw bad(i, 'creates a stream with a bad capacity or offset');
        next.set(op.s, op.next);
        return;
      case 'append':
      case 'batch': {
        const at = next.get(op.s);
        if (at === undefined) throw bad(i, `appends to ${JSON.stringify(op.s)}, which it never created`);
        const first = op.k === 'append' ? op.ev[0]?.offset : op.o;
        const count = op.k === 'append' ? op.ev.length : op.d.length;
        if (first !== at) throw bad(i, `appends at offset ${first}; the stream is at ${at}`);
        next.set(op.s, at + count);
        return;
      }
      case 'producers':
        if (!next.has(op.s))
          throw bad(i, `lists producers of ${JSON.stringify(op.s)}, which it never created`);
        return;
      case 'delete':
        next.delete(op.s);
        return;
      case 'tomb':
        return;
      default:
        throw bad(i, `has the unknown kind ${JSON.stringify((op as { k: unknown }).k)}`);
    }
  });
}

/** The memory charge of an event known only by its value (ops journaled before charges were recorded). */
function chargeOf(data: unknown): number {
  return (
    checkJsonText(Buffer.from(stringifyJson(data)), Number.POSITIVE_INFINITY, 'an event') +
    EVENT_OVERHEAD_BYTES
  );
}

const RECORD_END = Buffer.from('}');

/**
 * The JSON codec's bytes for a `batch` op, with `json` (the data array's JSON text) spliced in as `d`:
 * JSON.parse of the result equals the op. Saves serialising every event a second time.
 */
function encodeBatchJson(op: Extract<ShardOp, { k: 'batch' }>, json: Uint8Array): Uint8Array {
  const p = op.p === undefined ? '' : `,"p":${JSON.stringify(op.p)}`;
  const head = Buffer.from(`{"k":"batch","s":${JSON.stringify(op.s)},"o":${op.o},"t":${op.t}${p},"d":`);
  return Buffer.concat([head, json, RECORD_END]);
}
