// One stream of the server: a single-partition EventStore<StoredEvent> (the ring, time column and
// aggregations), its offsets, its acknowledged ("committed") end, and its idempotent producers.
// Owned by the server's thread; every method is synchronous. Offsets never repeat: offset =
// `base` + the partition's version, and `base` is the first offset held when the stream was (re)built.

import { EventStore } from '../core/event-store.js';
import { HeldBytes } from './held-bytes.js';
import { StreamColumns } from './stream-columns.js';

/** An event as the server stores and returns it. */
export interface StoredEvent {
  /** Position in the stream: 0, 1, 2, … never reused. */
  offset: number;
  /** Server receive time, epoch ms (the event time of aggregations). */
  timestamp: number;
  /** The JSON value the client appended. */
  data: unknown;
}

/** One acknowledged append of a producer, kept for the dedupe window. */
export interface ProducerAck {
  seq: number;
  firstOffset: number;
  lastOffset: number;
  count: number;
  /** CRC-32 of the request body: a retry must send the same bytes. */
  hash: number;
}

/** Dedupe state of one producer id on one stream. */
export interface ProducerState {
  epoch: number;
  lastSeq: number;
  /** The newest acknowledged appends, oldest first, at most `PRODUCER_WINDOW`. */
  recent: ProducerAck[];
}

/** Appends remembered per producer and stream: a retry of one of them is acknowledged, not stored. */
export const PRODUCER_WINDOW = 5;

/** A page of a stream. */
export interface StreamPage {
  events: StoredEvent[];
  /** Oldest offset held (the committed end when nothing is held). */
  firstOffset: number;
  /** Last acknowledged offset, -1 when none. */
  lastOffset: number;
  /** Offset after the last returned event (the `from` of the next page). */
  nextOffset: number;
}

/** Count, sum, min, max and average of a numeric field (min/max/average null when empty). */
export interface FieldAggregate {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  average: number | null;
}

const timestampOf = (e: StoredEvent): number => e.timestamp;

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
  readonly #listeners = new Set<() => void>();
  /** Typed columns of the aggregated fields, created by the first aggregation. */
  #columns: StreamColumns | undefined;

  constructor(name: string, capacity: number, shard: number, base: number) {
    this.name = name;
    this.capacity = capacity;
    this.shard = shard;
    this.base = base;
    this.next = base;
    this.committed = base;
    this.held = new HeldBytes(capacity);
    this.store = new EventStore<StoredEvent>({ capacity, partitions: 1, timestampSelector: timestampOf });
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
      throw new Error(`stream ${this.name}: append at offset ${events[0]?.offset}, expected ${this.next}`);
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

  /** Marks the stream deleted and wakes every reader. */
  close(): void {
    this.deleted = true;
    this.#notify();
  }

  /** Calls `listener` on every commit and on close; returns the unsubscribe function. */
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
