// The changes of a shard of the stream registry, as they are applied, journaled and captured in
// snapshots (`ShardOp`), and their compact JSON records on disk (`ShardOpCodec`). Every change of the
// registry is one op; restore replays them. Pure functions; no state.
//
//   op (in memory)                                record (JSON on disk)
//   create    stream capacity firstOffset         {k:'create', s, cap, next, ct?, ttl?, exp?,
//             config? createdAt? activeAt?         fork?:{s, at, cut?}, t?, a?, x?, q?, g?}
//             closed? seq? gone?
//   events    stream events producer? charges?    {k:'append', s, ev, p?, c?, b64?}  held events (snapshots;
//                                                  b64: byte chunks as base64)
//   batch     stream firstOffset timestamp        {k:'batch', s, o, t, p?, b?, x?, q?, d}  one append of
//             producer? chargeEach? close? seq?     JSON values (x: closes the stream, q: Stream-Seq)
//             data
//   chunk     stream offset timestamp charge      {k:'chunk', s, o, t, b, p?, x?, q?, d}  one append of
//             producer? close? seq? data           bytes (d: base64)
//   close     stream timestamp producer?          {k:'close', s, t, p?}           a close without data
//   touch     stream timestamp                    {k:'touch', s, t}               a read refreshing a TTL
//   producers stream producers                    {k:'producers', s, list}
//   delete    stream soft?                        {k:'delete', s, soft?}          soft: kept for its forks
//   tombstone stream nextOffset                   {k:'tomb', s, next}
//   floor     bucket nextOffset                   {k:'floor', b, next}

import { ErrorCode, EventStoreError } from '../../errors.js';
import { stringifyJson } from '../../json.js';
import type { StoredEvent } from '../../protocol.js';
import { JsonEventCodec } from '../../snapshots/codecs.js';
import type { EventCodec } from '../../snapshots/types.js';
import type { ProducerAck, ProducerState } from './producers.js';
import type { StreamConfig } from './stream-config.js';

/** The producer acknowledgement an append records. */
export interface ProducerRecord {
  id: string;
  epoch: number;
  ack: ProducerAck;
}

/** The state of a stream beyond its events, as a `create` op restores it (absent: the defaults). */
export interface CreateState {
  /** Absent: a `/streams` stream (JSON, no expiry, no fork). */
  config?: StreamConfig;
  /** Receive time of the create, epoch ms. */
  createdAt?: number;
  /** Last write or TTL refresh, epoch ms (a snapshot's; `createdAt` when absent). */
  activeAt?: number;
  closed?: boolean;
  /** Last `Stream-Seq`. */
  seq?: string;
  /** Deleted but kept for its forks. */
  gone?: boolean;
}

/** One change of a shard. */
export type ShardOp =
  /** A stream is created (its first append, a PUT, or a snapshot's list), its first offset `firstOffset`. */
  | ({ kind: 'create'; stream: string; capacity: number; firstOffset: number } & CreateState)
  /** Held events of a stream in a snapshot, with the memory charge of each. */
  | { kind: 'events'; stream: string; events: StoredEvent[]; producer?: ProducerRecord; charges?: number[] }
  /**
   * One append request: events `firstOffset`, `firstOffset + 1`, … with one receive time and the
   * data values `data`, each charged `chargeEach` bytes against the memory budget; `close` closes the
   * stream after them, `seq` is their `Stream-Seq`.
   */
  | {
      kind: 'batch';
      stream: string;
      firstOffset: number;
      timestamp: number;
      producer?: ProducerRecord;
      chargeEach?: number;
      close?: boolean;
      seq?: string;
      data: unknown[];
    }
  /** One append of bytes to a byte stream: the event `offset`, its bytes as base64. */
  | {
      kind: 'chunk';
      stream: string;
      offset: number;
      timestamp: number;
      charge: number;
      producer?: ProducerRecord;
      close?: boolean;
      seq?: string;
      data: string;
    }
  /** The stream is closed without an append (a producer's close is recorded with it). */
  | { kind: 'close'; stream: string; timestamp: number; producer?: ProducerRecord }
  /** A read refreshes the stream's sliding TTL at `timestamp`. */
  | { kind: 'touch'; stream: string; timestamp: number }
  /** The producer states of a stream in a snapshot. */
  | { kind: 'producers'; stream: string; producers: [string, ProducerState][] }
  /** The stream is deleted; `soft`: its events are kept for the forks that read them. */
  | { kind: 'delete'; stream: string; soft?: boolean }
  /** A deleted stream's next offset, so a re-created stream never reuses an offset. */
  | { kind: 'tombstone'; stream: string; nextOffset: number }
  /** Tombstones folded into a floor: a new stream whose name hashes to `bucket` starts at `nextOffset`. */
  | { kind: 'floor'; bucket: number; nextOffset: number };

/** A fork link on disk. */
interface ForkRecord {
  s: string;
  at: number;
  cut?: number;
}

/** The on-disk record of an op (see the table above). */
type ShardRecord =
  | {
      k: 'create';
      s: string;
      cap: number;
      next: number;
      ct?: string;
      ttl?: number;
      exp?: number;
      fork?: ForkRecord;
      t?: number;
      a?: number;
      x?: 1;
      q?: string;
      g?: 1;
    }
  | { k: 'append'; s: string; ev: StoredEvent[]; p?: ProducerRecord; c?: number[]; b64?: 1 }
  | {
      k: 'batch';
      s: string;
      o: number;
      t: number;
      p?: ProducerRecord;
      b?: number;
      x?: 1;
      q?: string;
      d: unknown[];
    }
  | {
      k: 'chunk';
      s: string;
      o: number;
      t: number;
      b: number;
      p?: ProducerRecord;
      x?: 1;
      q?: string;
      d: string;
    }
  | { k: 'close'; s: string; t: number; p?: ProducerRecord }
  | { k: 'touch'; s: string; t: number }
  | { k: 'producers'; s: string; list: [string, ProducerState][] }
  | { k: 'delete'; s: string; soft?: 1 }
  | { k: 'tomb'; s: string; next: number }
  | { k: 'floor'; b: number; next: number };

function createRecord(op: Extract<ShardOp, { kind: 'create' }>): ShardRecord {
  const r: Extract<ShardRecord, { k: 'create' }> = {
    k: 'create',
    s: op.stream,
    cap: op.capacity,
    next: op.firstOffset,
  };
  const c = op.config;
  if (c !== undefined) {
    r.ct = c.contentType;
    if (c.ttlSeconds !== undefined) r.ttl = c.ttlSeconds;
    if (c.expiresAtMs !== undefined) r.exp = c.expiresAtMs;
    if (c.fork !== undefined) {
      r.fork = { s: c.fork.source, at: c.fork.at };
      if (c.fork.cut !== 0) r.fork.cut = c.fork.cut;
    }
  }
  if (op.createdAt !== undefined) r.t = op.createdAt;
  if (op.activeAt !== undefined && op.activeAt !== op.createdAt) r.a = op.activeAt;
  if (op.closed === true) r.x = 1;
  if (op.seq !== undefined) r.q = op.seq;
  if (op.gone === true) r.g = 1;
  return r;
}

/** Events whose data are byte chunks, with the chunks as base64 (JSON has no bytes). */
function chunksAsBase64(events: readonly StoredEvent[]): StoredEvent[] {
  return events.map((e) => ({
    offset: e.offset,
    timestamp: e.timestamp,
    data: Buffer.from(e.data as Uint8Array).toString('base64'),
  }));
}

function toRecord(op: ShardOp): ShardRecord {
  switch (op.kind) {
    case 'create':
      return createRecord(op);
    case 'events': {
      const bytes = op.events[0]?.data instanceof Uint8Array;
      const r: ShardRecord = { k: 'append', s: op.stream, ev: bytes ? chunksAsBase64(op.events) : op.events };
      if (op.producer !== undefined) r.p = op.producer;
      if (op.charges !== undefined) r.c = op.charges;
      if (bytes) r.b64 = 1;
      return r;
    }
    case 'batch': {
      const r: ShardRecord = { k: 'batch', s: op.stream, o: op.firstOffset, t: op.timestamp, d: op.data };
      if (op.producer !== undefined) r.p = op.producer;
      if (op.chargeEach !== undefined) r.b = op.chargeEach;
      if (op.close === true) r.x = 1;
      if (op.seq !== undefined) r.q = op.seq;
      return r;
    }
    case 'chunk': {
      const r: ShardRecord = {
        k: 'chunk',
        s: op.stream,
        o: op.offset,
        t: op.timestamp,
        b: op.charge,
        d: op.data,
      };
      if (op.producer !== undefined) r.p = op.producer;
      if (op.close === true) r.x = 1;
      if (op.seq !== undefined) r.q = op.seq;
      return r;
    }
    case 'close': {
      const r: ShardRecord = { k: 'close', s: op.stream, t: op.timestamp };
      if (op.producer !== undefined) r.p = op.producer;
      return r;
    }
    case 'touch':
      return { k: 'touch', s: op.stream, t: op.timestamp };
    case 'producers':
      return { k: 'producers', s: op.stream, list: op.producers };
    case 'delete':
      return op.soft === true ? { k: 'delete', s: op.stream, soft: 1 } : { k: 'delete', s: op.stream };
    case 'tombstone':
      return { k: 'tomb', s: op.stream, next: op.nextOffset };
    case 'floor':
      return { k: 'floor', b: op.bucket, next: op.nextOffset };
  }
}

/** The op of a decoded record; throws ES_ERR_SNAPSHOT_CORRUPT for anything else. */
export function fromRecord(value: unknown): ShardOp {
  const r = value as Partial<Record<string, unknown>> | null;
  const bad = (why: string): EventStoreError =>
    new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid shard op record: ${why}`);
  if (typeof r !== 'object' || r === null) throw bad('not an object');
  if (r.k === 'floor') {
    if (typeof r.b !== 'number' || typeof r.next !== 'number') throw bad('a floor without bucket or offset');
    return { kind: 'floor', bucket: r.b, nextOffset: r.next };
  }
  if (typeof r.s !== 'string') throw bad(`kind ${JSON.stringify(r.k)} names no stream`);
  switch (r.k) {
    case 'create':
      return createFromRecord(r, r.s);
    case 'append': {
      const events = r.ev as StoredEvent[];
      if (r.b64 === 1) {
        if (!Array.isArray(events)) throw bad('byte events that are not a list');
        for (const e of events) e.data = Buffer.from(e.data as string, 'base64');
      }
      const op: ShardOp = { kind: 'events', stream: r.s, events };
      if (r.p !== undefined) op.producer = r.p as ProducerRecord;
      if (r.c !== undefined) op.charges = r.c as number[];
      return op;
    }
    case 'batch': {
      const op: ShardOp = {
        kind: 'batch',
        stream: r.s,
        firstOffset: r.o as number,
        timestamp: r.t as number,
        data: r.d as unknown[],
      };
      if (r.p !== undefined) op.producer = r.p as ProducerRecord;
      if (r.b !== undefined) op.chargeEach = r.b as number;
      if (r.x === 1) op.close = true;
      if (r.q !== undefined) op.seq = r.q as string;
      return op;
    }
    case 'chunk': {
      if (typeof r.d !== 'string') throw bad('a chunk without base64 data');
      const op: ShardOp = {
        kind: 'chunk',
        stream: r.s,
        offset: r.o as number,
        timestamp: r.t as number,
        charge: r.b as number,
        data: r.d,
      };
      if (r.p !== undefined) op.producer = r.p as ProducerRecord;
      if (r.x === 1) op.close = true;
      if (r.q !== undefined) op.seq = r.q as string;
      return op;
    }
    case 'close': {
      const op: ShardOp = { kind: 'close', stream: r.s, timestamp: r.t as number };
      if (r.p !== undefined) op.producer = r.p as ProducerRecord;
      return op;
    }
    case 'touch':
      return { kind: 'touch', stream: r.s, timestamp: r.t as number };
    case 'producers':
      return { kind: 'producers', stream: r.s, producers: r.list as [string, ProducerState][] };
    case 'delete':
      return r.soft === 1 ? { kind: 'delete', stream: r.s, soft: true } : { kind: 'delete', stream: r.s };
    case 'tomb':
      return { kind: 'tombstone', stream: r.s, nextOffset: r.next as number };
    default:
      throw bad(`unknown kind ${JSON.stringify(r.k)}`);
  }
}

/** The `create` op of a record (its optional members as the table above names them). */
function createFromRecord(r: Partial<Record<string, unknown>>, stream: string): ShardOp {
  const op: Extract<ShardOp, { kind: 'create' }> = {
    kind: 'create',
    stream,
    capacity: r.cap as number,
    firstOffset: r.next as number,
  };
  if (typeof r.ct === 'string') {
    const config: StreamConfig = { contentType: r.ct };
    if (r.ttl !== undefined) config.ttlSeconds = r.ttl as number;
    if (r.exp !== undefined) config.expiresAtMs = r.exp as number;
    const fork = r.fork as ForkRecord | undefined;
    if (fork !== undefined) config.fork = { source: fork.s, at: fork.at, cut: fork.cut ?? 0 };
    op.config = config;
  }
  if (r.t !== undefined) op.createdAt = r.t as number;
  if (r.a !== undefined) op.activeAt = r.a as number;
  if (r.x === 1) op.closed = true;
  if (r.q !== undefined) op.seq = r.q as string;
  if (r.g === 1) op.gone = true;
  return op;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const records = new JsonEventCodec<unknown>();

/**
 * The shard ops' codec for the journal and snapshots: JSON of the compact records. Its name is
 * `json` (the files say which codec wrote them, and these are JSON).
 */
export class ShardOpCodec implements EventCodec<ShardOp> {
  readonly name = 'json';

  encode(op: ShardOp): Uint8Array {
    // stringifyJson: events nested deeper than JSON.stringify's recursion still encode.
    const bytes = Buffer.from(stringifyJson(toRecord(op)), 'utf8');
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  decode(bytes: Uint8Array): ShardOp {
    return fromRecord(JSON.parse(utf8.decode(bytes)));
  }

  /** Restore's fast path: one JSON parse for many records (see JsonEventCodec.decodeMany). */
  decodeMany(bytes: Uint8Array, starts: readonly number[], lengths: readonly number[]): ShardOp[] {
    return records.decodeMany(bytes, starts, lengths).map(fromRecord);
  }
}

const RECORD_END = Buffer.from('}');

/**
 * The codec's bytes for a `batch` op with `json` (the data array's JSON text, e.g. the request body)
 * spliced in as its data: decoding the result gives the op. Saves serialising every event again.
 */
export function encodeBatchWithJson(op: Extract<ShardOp, { kind: 'batch' }>, json: Uint8Array): Uint8Array {
  const p = op.producer === undefined ? '' : `,"p":${JSON.stringify(op.producer)}`;
  const b = op.chargeEach === undefined ? '' : `,"b":${op.chargeEach}`;
  const x = op.close === true ? ',"x":1' : '';
  const q = op.seq === undefined ? '' : `,"q":${JSON.stringify(op.seq)}`;
  const head = Buffer.from(
    `{"k":"batch","s":${JSON.stringify(op.stream)},"o":${op.firstOffset},"t":${op.timestamp}${p}${b}${x}${q},"d":`,
  );
  return Buffer.concat([head, json, RECORD_END]);
}

/**
 * Throws ES_ERR_SNAPSHOT_CORRUPT unless `ops` replay cleanly onto an empty shard: every op is of a
 * known kind, and every append continues the offsets of a stream created before it. Changes nothing.
 */
export function checkShardOps(shard: number, ops: readonly ShardOp[]): void {
  const next = new Map<string, number>();
  const bad = (i: number, why: string): EventStoreError =>
    new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid snapshot of shard ${shard}: op ${i} ${why}`);
  ops.forEach((op, i) => {
    if (typeof op !== 'object' || op === null) throw bad(i, 'is not an op');
    switch (op.kind) {
      case 'floor':
        if (!Number.isSafeInteger(op.bucket) || !Number.isSafeInteger(op.nextOffset))
          throw bad(i, 'is a bad floor');
        return;
      case 'create':
        if (
          !Number.isSafeInteger(op.capacity) ||
          op.capacity < 1 ||
          !Number.isSafeInteger(op.firstOffset) ||
          op.firstOffset < 0
        ) {
          throw bad(i, 'creates a stream with a bad capacity or offset');
        }
        next.set(op.stream, op.firstOffset);
        return;
      case 'events':
      case 'batch':
      case 'chunk': {
        const at = next.get(op.stream);
        if (at === undefined) throw bad(i, `appends to ${JSON.stringify(op.stream)}, which it never created`);
        const first =
          op.kind === 'events' ? op.events[0]?.offset : op.kind === 'batch' ? op.firstOffset : op.offset;
        const count = op.kind === 'events' ? op.events.length : op.kind === 'batch' ? op.data.length : 1;
        if (first !== at) throw bad(i, `appends at offset ${first}; the stream is at ${at}`);
        next.set(op.stream, at + count);
        return;
      }
      case 'producers':
      case 'close':
      case 'touch':
        if (!next.has(op.stream)) {
          throw bad(i, `changes ${JSON.stringify(op.stream)} (${op.kind}), which it never created`);
        }
        return;
      case 'delete':
        if (op.soft !== true) next.delete(op.stream);
        return;
      case 'tombstone':
        return;
      default:
        throw bad(i, `has the unknown kind ${JSON.stringify((op as { kind: unknown }).kind)}`);
    }
  });
}
