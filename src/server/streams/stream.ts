// One stream of the server: a single-partition EventStore<StoredEvent> (the ring), its offsets, its
// acknowledged ("committed") end, its idempotent producers, the memory its events are charged, and
// what the Durable Streams protocol adds: a configuration (content type, expiry, fork link), closure,
// the last `Stream-Seq`, and whether it is a deleted stream kept for its forks. A JSON stream holds
// JSON values; a byte stream holds one Uint8Array chunk per append. Owned by the server's thread;
// every method is synchronous. Offsets never repeat: offset = `base` + the partition's version, and
// `base` is the first offset held when the stream was (re)built.

import { EventStore } from '../../core/event-store.js';
import { ErrorCode, EventStoreError } from '../../errors.js';
import type { FieldAggregate, StoredEvent, StreamPage } from '../../protocol.js';
import { HeldBytes } from './held-bytes.js';
import type { ProducerState } from './producers.js';
import { StreamColumns } from './stream-columns.js';
import { DEFAULT_STREAM_CONFIG, expiredAt, isJsonContentType, type StreamConfig } from './stream-config.js';

/** ES_ERR_STREAM_GONE for a stream deleted but kept for its forks. */
export function goneError(stream: Stream): EventStoreError {
  return new EventStoreError(
    ErrorCode.STREAM_GONE,
    `stream ${JSON.stringify(stream.name)} was deleted; its events are kept only for the streams forked from it`,
  );
}

export class Stream {
  readonly name: string;
  readonly capacity: number;
  readonly shard: number;
  readonly store: EventStore<StoredEvent>;
  /** Offset of the partition's version 0. */
  readonly base: number;
  /** Offset the next appended event gets. */
  next: number;
  /** Offsets below this are acknowledged: the only ones reads and subscriptions show. */
  committed: number;
  readonly producers = new Map<string, ProducerState>();
  /** Memory charges of the held events (the server's memory budget). */
  readonly held: HeldBytes;
  deleted = false;
  readonly config: StreamConfig;
  /** Whether events are JSON values (else byte chunks). */
  readonly json: boolean;
  /** Receive time of the create, epoch ms (0 for streams created before it was recorded). */
  readonly createdAt: number;
  /** Time of the last write or read refresh (`touch`), epoch ms: the start of a sliding TTL. */
  activeAt: number;
  /** Closed (no more appends), as applied. */
  closed = false;
  /** Closed, and the close acknowledged: what readers see. */
  closeCommitted = false;
  /** The last `Stream-Seq` appended with (compared as strings). */
  seq: string | undefined;
  /** Deleted, but kept because forks read its events (`STREAM_GONE` to everyone else). */
  gone = false;
  readonly #listeners = new Set<() => void>();
  /** Typed columns of the aggregated fields, created by the first aggregation. */
  #columns: StreamColumns | undefined;

  constructor(
    name: string,
    capacity: number,
    shard: number,
    base: number,
    config: StreamConfig = DEFAULT_STREAM_CONFIG,
    createdAt = 0,
  ) {
    this.name = name;
    this.capacity = capacity;
    this.shard = shard;
    this.base = base;
    this.next = base;
    this.committed = base;
    this.config = config;
    this.json = isJsonContentType(config.contentType);
    this.createdAt = createdAt;
    this.activeAt = createdAt;
    this.held = new HeldBytes(capacity);
    // No time column: aggregations keep their own (stream-columns.ts), reads go by offset.
    this.store = new EventStore<StoredEvent>({ capacity, partitions: 1 });
  }

  /** Oldest offset held (`next` when empty). */
  get firstOffset(): number {
    return this.next - this.store.size;
  }

  /** Offset of the last appended event, -1 when none was ever appended under this name. */
  get currentVersion(): number {
    return this.next - 1;
  }

  /**
   * Appends events whose offsets continue the stream, charging each `charge` bytes (one number for
   * all, or one per event) against the memory budget.
   */
  append(events: readonly StoredEvent[], charge: number | readonly number[]): void {
    if (events[0]?.offset !== this.next) {
      throw new EventStoreError(
        ErrorCode.INVALID_STATE,
        `stream ${this.name}: append at offset ${events[0]?.offset}, expected ${this.next}`,
      );
    }
    this.store.tryAppendBatch(events, 0);
    this.next += events.length;
    if (typeof charge === 'number') this.held.add(events.length, charge);
    else for (const c of charge) this.held.add(1, c);
  }

  /** Marks offsets below `upTo` acknowledged and wakes the readers waiting for them. */
  commit(upTo: number): void {
    if (upTo <= this.committed) return;
    this.committed = Math.min(upTo, this.next);
    this.#notify();
  }

  /** Marks the close acknowledged and wakes the readers waiting at the end. */
  commitClose(): void {
    if (!this.closed || this.closeCommitted) return;
    this.closeCommitted = true;
    this.#notify();
  }

  /** Whether the stream has expired at `nowMs` (its TTL ran out since `activeAt`, or its fixed time passed). */
  expiredAt(nowMs: number): boolean {
    return expiredAt(this.config, this.activeAt, nowMs);
  }

  /** Marks the stream deleted and wakes every reader. */
  markDeleted(): void {
    this.deleted = true;
    this.#notify();
  }

  /** Calls `listener` on every commit, acknowledged closure and deletion; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const l of [...this.#listeners]) {
      try {
        l();
      } catch {
        // A reader's failure must not fail the append that woke it; readers clean up on their own.
      }
    }
  }

  /**
   * Acknowledged events with offsets in `[from, from + limit)`. The caller checks `from >= firstOffset`
   * (an evicted offset is an error, never a silent gap).
   */
  read(from: number, limit: number): StreamPage {
    const first = Math.min(this.firstOffset, this.committed);
    const start = Math.max(from, first);
    const end = Math.min(this.committed, start + limit);
    const events = end > start ? this.store.readVersions(0, start - this.base, end - start).events : [];
    return {
      events,
      firstOffset: first,
      lastOffset: this.committed - 1,
      nextOffset: events.length > 0 ? events[events.length - 1]!.offset + 1 : Math.min(start, this.committed),
    };
  }

  /** Aggregates of the numeric `field` (and per `groupBy` value) over acknowledged events in [from, to]. */
  aggregate(
    field: readonly string[],
    groupBy: readonly string[] | undefined,
    range: { from?: number; to?: number },
  ): FieldAggregate & { groups: Record<string, FieldAggregate> } {
    this.#columns ??= new StreamColumns(
      this.capacity,
      (from, to) => this.store.readVersions(0, from - this.base, to - from).events,
    );
    const end = this.committed;
    const first = Math.min(this.firstOffset, end);
    return this.#columns.aggregate(
      first,
      end,
      field,
      groupBy,
      range.from ?? Number.NEGATIVE_INFINITY,
      range.to ?? Number.POSITIVE_INFINITY,
    );
  }
}
