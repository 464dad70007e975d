// The wire types of the HTTP API, shared by the server (which sends them) and the client (which
// reads them): one declaration each. Types only; nothing here runs.

/** An event as the server stores and returns it. */
export interface StoredEvent<T = unknown> {
  /** Position in the stream: 0, 1, 2, … never reused. */
  offset: number;
  /** Server receive time, epoch ms (the event time of aggregations). */
  timestamp: number;
  /** The JSON value the client appended. */
  data: T;
}

/** The acknowledgement of an append (`201`, or `200` for a recognised producer retry). */
export interface AppendResult {
  stream: string;
  firstOffset: number;
  lastOffset: number;
  count: number;
  /** Present on an idempotent producer retry that the server had already stored. */
  duplicate?: boolean;
}

/** A page of a stream (`GET /streams/{name}`), without the `stream` member. */
export interface StreamPage<T = unknown> {
  events: StoredEvent<T>[];
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

/** `GET /streams/{name}?aggregate=true`: the totals and, per `groupBy` value, the groups. */
export interface AggregateResult extends FieldAggregate {
  stream: string;
  groups: Record<string, FieldAggregate>;
}

/** One stream of `GET /streams`. */
export interface StreamInfo {
  name: string;
  capacity: number;
  count: number;
  firstOffset: number;
  lastOffset: number;
  nextOffset: number;
}

/** A page of `GET /streams`: `nextAfter` is the `after` of the next page, absent on the last. */
export interface StreamList {
  streams: StreamInfo[];
  nextAfter?: string;
}
