// The reference model of the HTTP service's durable state, for the lifecycle model test: per stream
// name the capacity, the events held, the next offset and the idempotent producers, and the tombstones
// of deleted streams. Plain arrays and maps; `answer` decides every append exactly as docs/http-api.md
// specifies (producer check, then Expected-Version, then capacity), and nothing the service forgets
// across a restart is forgotten here.

import type { StreamInfo } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/errors.ts';
import { PRODUCER_WINDOW } from '../../src/server/streams/producers.ts';

/** The server's receive time of one request: unknown within [loMs, hiMs] until a read shows it. */
export interface ReceiveTime {
  loMs: number;
  hiMs: number;
  /** The timestamp a read returned; every later read (after any restart) must return it again. */
  seenMs: number | undefined;
}

export interface ModelEvent {
  offset: number;
  data: unknown;
  /** Shared by the events of one request. */
  time: ReceiveTime;
}

/** An acknowledged append of a producer, with the request a retry must send again (same bytes). */
export interface ModelAck {
  seq: number;
  firstOffset: number;
  lastOffset: number;
  count: number;
  request: AppendRequest;
}

export interface ModelProducer {
  epoch: number;
  lastSeq: number;
  /** The newest acknowledged appends of this epoch, oldest first, at most PRODUCER_WINDOW. */
  recent: ModelAck[];
}

export interface ModelStream {
  name: string;
  capacity: number;
  /** Offset of the next event. */
  next: number;
  /** The events held, oldest first: the last `capacity` appended at most. */
  events: ModelEvent[];
  producers: Map<string, ModelProducer>;
}

export interface ProducerHeaders {
  id: string;
  epoch: number;
  seq: number;
}

/** One append request: its events, the exact body that carries them and its options. */
export interface AppendRequest {
  stream: string;
  data: readonly unknown[];
  body: string;
  contentType: string;
  /** `?capacity=`. */
  capacity?: number | undefined;
  expectedVersion?: number | undefined;
  producer?: ProducerHeaders | undefined;
}

export interface AppendAck {
  stream: string;
  firstOffset: number;
  lastOffset: number;
  count: number;
  duplicate?: true;
}

/** The answer the service must give: an acknowledgement (201, or 200 for a duplicate) or a problem. */
export type AppendAnswer =
  | { status: 200 | 201; ack: AppendAck }
  | { status: 400 | 409; code: string; members: Record<string, unknown> };

const MAX_STREAM_CAPACITY = 1_000_000;

export class LifecycleModel {
  /** Capacity of a stream whose first append has no `?capacity=` (`--stream-capacity`). */
  readonly defaultCapacity: number;
  readonly streams = new Map<string, ModelStream>();
  /** Next offset of deleted streams. */
  readonly tombstones = new Map<string, number>();

  constructor(defaultCapacity: number) {
    this.defaultCapacity = defaultCapacity;
  }

  /** The offset the next event appended under `name` gets. */
  nextOffset(name: string): number {
    return this.streams.get(name)?.next ?? this.tombstones.get(name) ?? 0;
  }

  firstOffset(stream: ModelStream): number {
    return stream.next - stream.events.length;
  }

  producer(stream: string, id: string): ModelProducer | undefined {
    return this.streams.get(stream)?.producers.get(id);
  }

  /** Every producer state, by stream. */
  producers(): { stream: string; id: string; state: ModelProducer }[] {
    const all: { stream: string; id: string; state: ModelProducer }[] = [];
    for (const s of this.streams.values()) {
      for (const [id, state] of s.producers) all.push({ stream: s.name, id, state });
    }
    return all;
  }

  heldEvents(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.events.length;
    return n;
  }

  /** What `GET /streams` must list. */
  list(): StreamInfo[] {
    return [...this.streams.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((s) => ({
        name: s.name,
        capacity: s.capacity,
        count: s.events.length,
        firstOffset: this.firstOffset(s),
        lastOffset: s.next - 1,
        nextOffset: s.next,
      }));
  }

  /** The answer the service must give to `req`. Changes nothing. */
  answer(req: AppendRequest): AppendAnswer {
    const problem = (status: 400 | 409, code: string, members: Record<string, unknown> = {}) =>
      ({ status, code, members }) as const;
    if (req.expectedVersion !== undefined && req.expectedVersion < -1) {
      return problem(400, ErrorCode.BAD_REQUEST);
    }
    if (req.capacity !== undefined && (req.capacity < 1 || req.capacity > MAX_STREAM_CAPACITY)) {
      return problem(400, ErrorCode.BAD_REQUEST);
    }
    const existing = this.streams.get(req.stream);
    const p = req.producer;
    if (p !== undefined) {
      const state = existing?.producers.get(p.id);
      if (state !== undefined && p.epoch < state.epoch) {
        return problem(409, ErrorCode.PRODUCER_FENCED, { currentEpoch: state.epoch });
      }
      if (state !== undefined && p.epoch === state.epoch) {
        if (p.seq <= state.lastSeq) {
          const ack = state.recent.find((a) => a.seq === p.seq);
          if (ack === undefined) {
            return problem(409, ErrorCode.PRODUCER_SEQUENCE, { expectedSeq: state.lastSeq + 1 });
          }
          if (ack.request.body !== req.body || ack.count !== req.data.length) {
            return problem(409, ErrorCode.IDEMPOTENCY_CONFLICT, {
              firstOffset: ack.firstOffset,
              lastOffset: ack.lastOffset,
            });
          }
          return {
            status: 200,
            ack: {
              stream: req.stream,
              firstOffset: ack.firstOffset,
              lastOffset: ack.lastOffset,
              count: ack.count,
              duplicate: true,
            },
          };
        }
        if (p.seq !== state.lastSeq + 1) {
          return problem(409, ErrorCode.PRODUCER_SEQUENCE, { expectedSeq: state.lastSeq + 1 });
        }
      }
    }
    const next = this.nextOffset(req.stream);
    if (req.expectedVersion !== undefined && req.expectedVersion !== next - 1) {
      return problem(409, ErrorCode.WRONG_EXPECTED_VERSION, { currentVersion: next - 1 });
    }
    const capacity = existing?.capacity ?? req.capacity ?? this.defaultCapacity;
    if (req.data.length > capacity) return problem(400, ErrorCode.BAD_REQUEST);
    const count = req.data.length;
    return {
      status: 201,
      ack: { stream: req.stream, firstOffset: next, lastOffset: next + count - 1, count },
    };
  }

  /** Records an acknowledged (201) append: its events, evictions and producer state. */
  apply(req: AppendRequest, time: ReceiveTime): void {
    const next = this.nextOffset(req.stream);
    let stream = this.streams.get(req.stream);
    if (stream === undefined) {
      stream = {
        name: req.stream,
        capacity: req.capacity ?? this.defaultCapacity,
        next,
        events: [],
        producers: new Map(),
      };
      this.streams.set(req.stream, stream);
      this.tombstones.delete(req.stream);
    }
    for (const [i, data] of req.data.entries()) stream.events.push({ offset: next + i, data, time });
    stream.next += req.data.length;
    if (stream.events.length > stream.capacity)
      stream.events.splice(0, stream.events.length - stream.capacity);
    const p = req.producer;
    if (p !== undefined) {
      let state = stream.producers.get(p.id);
      if (state === undefined || state.epoch !== p.epoch)
        state = { epoch: p.epoch, lastSeq: p.seq, recent: [] };
      stream.producers.set(p.id, state);
      state.lastSeq = p.seq;
      state.recent.push({
        seq: p.seq,
        firstOffset: next,
        lastOffset: stream.next - 1,
        count: req.data.length,
        request: req,
      });
      if (state.recent.length > PRODUCER_WINDOW) state.recent.shift();
    }
  }

  /** Deletes a live stream (its producers go with it); returns its next offset, undefined if absent. */
  delete(name: string): number | undefined {
    const stream = this.streams.get(name);
    if (stream === undefined) return undefined;
    this.streams.delete(name);
    this.tombstones.set(name, stream.next);
    return stream.next;
  }
}
