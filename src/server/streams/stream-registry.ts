// The server's streams, grouped into a fixed number of shards (stream -> shard by a stable name
// hash), and the SnapshotTarget that lets the generic Snapshotter persist them: a shard's state is a
// list of ops (shard-ops.ts) replayed on restore, and every change is one journaled op, applied by the
// one `#apply` that restore and replay use too. Owned by the server's thread: appends, deletes and
// captures are synchronous steps, so a capture is an exact prefix of the shard's op history. Refusals
// are domain errors (EventStoreError with a code and details); the HTTP layer maps them. The Durable
// Streams protocol's creates and appends (stream-create.ts, stream-write.ts) change streams through
// the same `#record`, by the `RegistryInternals` this class hands them.
//
// Every decision that depends on another shard (a delete is soft while forks read the stream; the
// sources a delete frees) is taken here, on the live path, and recorded in the ops of each shard it
// changes: replay never consults another shard, whose snapshot may be older or newer.

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
import type { RegistryInternals, StreamRegistryOptions } from './registry-internals.js';

export type { StreamRegistryOptions } from './registry-internals.js';

import { checkShardOps, encodeBatchWithJson, type ShardOp } from './shard-ops.js';
import { goneError, Stream } from './stream.js';
import { DEFAULT_STREAM_CONFIG } from './stream-config.js';
import { type CreateRequest, type CreateResult, createStream } from './stream-create.js';
import { type WriteRequest, type WriteResult, writeStream } from './stream-write.js';

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

/** Refuses a `/streams` append (JSON values, no protocol rules) to a stream that cannot take it. */
function refuseJsonAppend(stream: Stream): void {
  if (stream.gone) throw goneError(stream);
  if (!stream.json) {
    throw new EventStoreError(
      ErrorCode.CONTENT_TYPE_MISMATCH,
      `stream ${JSON.stringify(stream.name)} holds ${stream.config.contentType} bytes, not JSON events; append to it under /v1/stream/`,
      { details: { contentType: stream.config.contentType } },
    );
  }
  if (stream.closed) {
    throw new EventStoreError(ErrorCode.STREAM_CLOSED, `stream ${JSON.stringify(stream.name)} is closed`, {
      details: { nextOffset: stream.next },
    });
  }
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
  /** Source name -> names of the live forks that read it (derived from the forks' create ops). */
  readonly #forks = new Map<string, Set<string>>();
  /** Streams with a TTL or an expiry time, and deleted streams kept for forks (the sweep's candidates). */
  readonly #expiring = new Set<Stream>();
  readonly #internals: RegistryInternals;

  constructor(options: StreamRegistryOptions) {
    this.options = options;
    this.#tombstonesPerShard = Math.max(1, Math.floor(options.maxTombstones / options.shards));
    this.#shards = Array.from({ length: options.shards }, () => ({
      version: 0,
      streams: new Map(),
      tombstones: new Map(),
      floors: new Map(),
    }));
    this.#internals = {
      options,
      find: (name) => this.getAny(name),
      shardOf: (name) => partitionForKey(name, this.#shards.length),
      streamCount: () => this.#streamCount,
      nextOffsetFor: (name) => this.#nextOffsetFor(name),
      checkBudget: (added, evicted) => this.#checkBudget(added, evicted),
      record: (shard, ops, json) => this.#recordAll(shard, ops, json),
      remove: (stream) => this.#remove(stream),
      trimProducers: (stream) => {
        this.producersEvicted += trimProducers(stream.producers, this.options.maxProducersPerStream);
      },
    };
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

  /** The live stream of that name, if any (a deleted stream kept for its forks is not live). */
  get(name: string): Stream | undefined {
    const stream = this.getAny(name);
    return stream?.gone === true ? undefined : stream;
  }

  /** The stream of that name, live or deleted but kept for its forks (`gone`). */
  getAny(name: string): Stream | undefined {
    return this.#shards[partitionForKey(name, this.#shards.length)]!.streams.get(name);
  }

  /** Live forks that read `name`. */
  forkCount(name: string): number {
    return this.#forks.get(name)?.size ?? 0;
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

  /** Every live stream, by name; with `includeGone`, also the deleted ones kept for their forks. */
  list(includeGone = false): Stream[] {
    const all: Stream[] = [];
    for (const shard of this.#shards) {
      for (const s of shard.streams.values()) if (includeGone || !s.gone) all.push(s);
    }
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
    let existing = shard.streams.get(name);
    if (existing !== undefined && !existing.gone && existing.expiredAt(req.timestamp)) {
      // Expired (not swept yet): gone for every write from its expiry on, so the name is free.
      this.#remove(existing);
      existing = shard.streams.get(name);
    }
    if (existing !== undefined) refuseJsonAppend(existing);
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
    const next = existing?.next ?? this.#nextOffsetFor(name);
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
    this.#checkBudget(each * data.length, evicted);
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
    const ops: ShardOp[] =
      existing === undefined ? [{ kind: 'create', stream: name, capacity, firstOffset: next }, op] : [op];
    this.#recordAll(shardIndex, ops, req.json);
    if (fresh) {
      this.producersEvicted += trimProducers(this.get(name)!.producers, this.options.maxProducersPerStream);
    }
    return { stream: name, firstOffset: next, lastOffset: next + data.length - 1, count: data.length };
  }

  /**
   * Creates a stream with a configuration (a protocol `PUT`), or finds it already so (`created:
   * false`). See stream-create.ts for the checks and their errors.
   */
  create(name: string, req: CreateRequest): CreateResult {
    return createStream(this.#internals, name, req);
  }

  /** Appends to (or closes) a stream under the protocol's rules; see stream-write.ts. */
  write(name: string, req: WriteRequest): WriteResult {
    return writeStream(this.#internals, name, req);
  }

  /**
   * Deletes a stream (journaled); its next offset is kept so a re-created stream continues after it.
   * A stream that forks read is only marked deleted (`gone`) and kept until its last fork goes.
   * Throws ES_ERR_STREAM_GONE for a stream already deleted that way.
   */
  delete(name: string): Stream | undefined {
    const stream = this.getAny(name);
    if (stream === undefined) return undefined;
    if (stream.gone) throw goneError(stream);
    this.#remove(stream);
    return stream;
  }

  /**
   * A read refreshes the sliding TTL of `name` at `timestamp` (journaled, so every node and every
   * restart expires the stream alike). Nothing for a stream without a TTL, or one already expired.
   */
  touch(name: string, timestamp: number): void {
    const stream = this.get(name);
    if (stream?.config.ttlSeconds === undefined || stream.expiredAt(timestamp)) return;
    if (timestamp <= stream.activeAt) return;
    this.#recordAll(stream.shard, [{ kind: 'touch', stream: name, timestamp }]);
  }

  /**
   * Removes the streams among `names` that expired at `timestamp`, and deleted streams that no fork
   * reads any more; returns the names removed. A stream that forks still read is only marked deleted.
   */
  expire(names: readonly string[], timestamp: number): string[] {
    const removed: string[] = [];
    for (const name of names) {
      const stream = this.getAny(name);
      if (stream === undefined) continue;
      const due = stream.gone ? this.forkCount(name) === 0 : stream.expiredAt(timestamp);
      if (!due) continue;
      this.#remove(stream);
      removed.push(name);
    }
    return removed;
  }

  /** The names `expire` would remove at `nowMs` (the sweep's candidates; `expire` decides again). */
  expiredNames(nowMs: number): string[] {
    const names: string[] = [];
    for (const s of this.#expiring) {
      if (s.gone ? this.forkCount(s.name) === 0 : s.expiredAt(nowMs)) names.push(s.name);
    }
    return names;
  }

  /**
   * Deletes `stream`: softly while forks read it; else for good, and then its sources that were
   * deleted softly and that no fork reads any more, up the chain. Each decision is recorded as an op
   * of the shard it changes.
   */
  #remove(stream: Stream): void {
    if (this.forkCount(stream.name) > 0) {
      if (!stream.gone) this.#recordAll(stream.shard, [{ kind: 'delete', stream: stream.name, soft: true }]);
      return;
    }
    this.#recordAll(stream.shard, [{ kind: 'delete', stream: stream.name }]);
    let source = stream.config.fork?.source;
    while (source !== undefined) {
      const s = this.getAny(source);
      if (s === undefined || !s.gone || this.forkCount(source) > 0) return;
      this.#recordAll(s.shard, [{ kind: 'delete', stream: source }]);
      source = s.config.fork?.source;
    }
  }

  /**
   * The offset a read from the start (`-1`) of `name` begins at: the oldest offset held, or for a fork
   * the start of its source (recursively) when the fork inherits any of its events.
   */
  startOffset(name: string): number {
    let stream = this.getAny(name);
    let start = Number.POSITIVE_INFINITY;
    while (stream !== undefined) {
      const fork = stream.config.fork;
      const own = Math.min(stream.firstOffset, stream.committed);
      if (fork === undefined || fork.at <= 0) return Math.min(start, own);
      start = Math.min(start, fork.at);
      const source = this.getAny(fork.source);
      if (source === undefined) return Math.min(start, own);
      stream = source;
    }
    return start;
  }

  /** The offset a new (not forked) stream of that name starts at: after every offset it ever used. */
  #nextOffsetFor(name: string): number {
    const shard = this.#shards[partitionForKey(name, this.#shards.length)]!;
    return shard.tombstones.get(name) ?? shard.floors.get(floorBucket(name)) ?? 0;
  }

  /** Throws ES_ERR_INSUFFICIENT_STORAGE when adding `added` bytes (and freeing `evicted`) exceeds the budget. */
  #checkBudget(added: number, evicted: number): void {
    const after = this.#heldBytes + added - evicted;
    if (after > this.options.memoryBudgetBytes) {
      throw new EventStoreError(
        ErrorCode.INSUFFICIENT_STORAGE,
        `the server's streams would hold ${after} bytes, over its memory budget of ${this.options.memoryBudgetBytes}; delete streams or append to full ones (which evict)`,
        { details: { memoryBudgetBytes: this.options.memoryBudgetBytes, heldBytes: this.#heldBytes } },
      );
    }
  }

  /**
   * Encodes `ops` (all of one shard), then applies and journals them in order: an op the codec
   * refuses changes nothing. `json`: the JSON text of the data of the `batch` op among them, if any.
   */
  #recordAll(shardIndex: number, ops: readonly ShardOp[], json?: Uint8Array): void {
    const hook = this.#hook;
    const encoded = ops.map((op) =>
      hook === undefined
        ? undefined
        : op.kind === 'batch' && json !== undefined && hook.codecName === 'json'
          ? encodeBatchWithJson(op, json)
          : hook.encode(op),
    );
    for (let i = 0; i < ops.length; i++) this.#record(shardIndex, ops[i]!, encoded[i]);
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
        if (old !== undefined) this.#forget(old);
        else this.#streamCount++;
        const stream = new Stream(
          op.stream,
          op.capacity,
          shardIndex,
          op.firstOffset,
          op.config,
          op.createdAt,
        );
        if (op.activeAt !== undefined) stream.activeAt = op.activeAt;
        stream.closed = op.closed === true;
        stream.seq = op.seq;
        stream.gone = op.gone === true;
        if (restored) stream.closeCommitted = stream.closed;
        shard.streams.set(op.stream, stream);
        this.#link(stream);
        // A fork keeps the name's tombstone: its offsets are its source's, so after it is deleted a
        // stream re-created under the name must still continue after the highest offset ever used.
        if (op.config?.fork === undefined) shard.tombstones.delete(op.stream);
        this.#wakeCreationWaiters(op.stream);
        return;
      }
      case 'events':
      case 'batch':
      case 'chunk': {
        const stream = shard.streams.get(op.stream);
        if (stream === undefined) throw missing(op.kind, op.stream);
        const before = stream.held.total;
        if (op.kind === 'events') {
          stream.append(op.events, op.charges ?? op.events.map((e) => chargeOf(e.data)));
        } else if (op.kind === 'chunk') {
          const data = Buffer.from(op.data, 'base64');
          stream.append([{ offset: op.offset, timestamp: op.timestamp, data }], op.charge);
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
        if (op.kind !== 'events') {
          stream.activeAt = Math.max(stream.activeAt, op.timestamp);
          if (op.seq !== undefined) stream.seq = op.seq;
          if (op.close === true) this.#close(stream, restored);
        }
        return;
      }
      case 'close':
      case 'touch': {
        const stream = shard.streams.get(op.stream);
        if (stream === undefined) throw missing(op.kind, op.stream);
        stream.activeAt = Math.max(stream.activeAt, op.timestamp);
        if (op.kind === 'close') {
          if (op.producer !== undefined) {
            recordProducer(stream.producers, op.producer.id, op.producer.epoch, op.producer.ack);
          }
          this.#close(stream, restored);
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
        if (op.soft === true) {
          // Kept for the forks that read it; no longer a stream for anyone else.
          stream.gone = true;
          this.#expiring.add(stream);
          stream.markDeleted();
          return;
        }
        shard.streams.delete(op.stream);
        this.#streamCount--;
        this.#heldBytes -= stream.held.total;
        this.#setTombstone(shard, op.stream, stream.next);
        this.#forget(stream);
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

  #close(stream: Stream, restored: boolean): void {
    stream.closed = true;
    if (restored) stream.closeCommitted = true;
  }

  /** Notes what the registry derives from a stream's config: its fork link, its expiry. */
  #link(stream: Stream): void {
    const fork = stream.config.fork;
    if (fork !== undefined) {
      let forks = this.#forks.get(fork.source);
      if (forks === undefined) this.#forks.set(fork.source, (forks = new Set()));
      forks.add(stream.name);
    }
    if (stream.gone || stream.config.ttlSeconds !== undefined || stream.config.expiresAtMs !== undefined) {
      this.#expiring.add(stream);
    }
  }

  /** Undoes `#link` for a stream leaving the registry, and wakes its readers. */
  #forget(stream: Stream): void {
    const fork = stream.config.fork;
    const forks = fork === undefined ? undefined : this.#forks.get(fork.source);
    if (forks !== undefined) {
      forks.delete(stream.name);
      if (forks.size === 0) this.#forks.delete(fork!.source);
    }
    this.#expiring.delete(stream);
    stream.markDeleted();
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
    const kept = shard.tombstones.get(name) ?? 0;
    shard.tombstones.delete(name);
    shard.tombstones.set(name, Math.max(kept, next));
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
      const create: Extract<ShardOp, { kind: 'create' }> = {
        kind: 'create',
        stream: stream.name,
        capacity: stream.capacity,
        firstOffset: stream.firstOffset,
      };
      // A `/streams` stream's record stays as it always was; the protocol's state is added when set.
      if (stream.config !== DEFAULT_STREAM_CONFIG) create.config = stream.config;
      if (stream.createdAt !== 0) create.createdAt = stream.createdAt;
      if (stream.activeAt !== stream.createdAt) create.activeAt = stream.activeAt;
      if (stream.closed) create.closed = true;
      if (stream.seq !== undefined) create.seq = stream.seq;
      if (stream.gone) create.gone = true;
      ops.push(create);
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
          this.#forget(s);
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
