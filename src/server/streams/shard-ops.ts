// The changes of a shard of the stream registry, as they are applied, journaled and captured in
// snapshots (`ShardOp`), and their compact JSON records on disk (`ShardOpCodec`). Every change of the
// registry is one op; restore replays them. Pure functions; no state.
//
//   op (in memory)                                record (JSON on disk)
//   create    stream capacity firstOffset         {k:'create', s, cap, next}
//   events    stream events producer? charges?    {k:'append', s, ev, p?, c?}     held events (snapshots)
//   batch     stream firstOffset timestamp        {k:'batch', s, o, t, p?, b?, d}  one append request
//             producer? chargeEach? data
//   producers stream producers                    {k:'producers', s, list}
//   delete    stream                              {k:'delete', s}
//   tombstone stream nextOffset                   {k:'tomb', s, next}
//   floor     bucket nextOffset                   {k:'floor', b, next}

import { ErrorCode, EventStoreError } from '../../errors.js';
import { stringifyJson } from '../../json.js';
import type { StoredEvent } from '../../protocol.js';
import { JsonEventCodec } from '../../snapshots/codecs.js';
import type { EventCodec } from '../../snapshots/types.js';
import type { ProducerAck, ProducerState } from './producers.js';

/** The producer acknowledgement an append records. */
export interface ProducerRecord {
  id: string;
  epoch: number;
  ack: ProducerAck;
}

/** One change of a shard. */
export type ShardOp =
  /** A stream is created (its first append, or a snapshot's list), its first offset `firstOffset`. */
  | { kind: 'create'; stream: string; capacity: number; firstOffset: number }
  /** Held events of a stream in a snapshot, with the memory charge of each. */
  | { kind: 'events'; stream: string; events: StoredEvent[]; producer?: ProducerRecord; charges?: number[] }
  /**
   * One append request: events `firstOffset`, `firstOffset + 1`, … with one receive time and the
   * data values `data`, each charged `chargeEach` bytes against the memory budget.
   */
  | {
      kind: 'batch';
      stream: string;
      firstOffset: number;
      timestamp: number;
      producer?: ProducerRecord;
      chargeEach?: number;
      data: unknown[];
    }
  /** The producer states of a stream in a snapshot. */
  | { kind: 'producers'; stream: string; producers: [string, ProducerState][] }
  | { kind: 'delete'; stream: string }
  /** A deleted stream's next offset, so a re-created stream never reuses an offset. */
  | { kind: 'tombstone'; stream: string; nextOffset: number }
  /** Tombstones folded into a floor: a new stream whose name hashes to `bucket` starts at `nextOffset`. */
  | { kind: 'floor'; bucket: number; nextOffset: number };

/** The on-disk record of an op (see the table above). */
type ShardRecord =
  | { k: 'create'; s: string; cap: number; next: number }
  | { k: 'append'; s: string; ev: StoredEvent[]; p?: ProducerRecord; c?: number[] }
  | { k: 'batch'; s: string; o: number; t: number; p?: ProducerRecord; b?: number; d: unknown[] }
  | { k: 'producers'; s: string; list: [string, ProducerState][] }
  | { k: 'delete'; s: string }
  | { k: 'tomb'; s: string; next: number }
  | { k: 'floor'; b: number; next: number };

function toRecord(op: ShardOp): ShardRecord {
  switch (op.kind) {
    case 'create':
      return { k: 'create', s: op.stream, cap: op.capacity, next: op.firstOffset };
    case 'events': {
      const r: ShardRecord = { k: 'append', s: op.stream, ev: op.events };
      if (op.producer !== undefined) r.p = op.producer;
      if (op.charges !== undefined) r.c = op.charges;
      return r;
    }
    case 'batch': {
      const r: ShardRecord = { k: 'batch', s: op.stream, o: op.firstOffset, t: op.timestamp, d: op.data };
      if (op.producer !== undefined) r.p = op.producer;
      if (op.chargeEach !== undefined) r.b = op.chargeEach;
      return r;
    }
    case 'producers':
      return { k: 'producers', s: op.stream, list: op.producers };
    case 'delete':
      return { k: 'delete', s: op.stream };
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
      return { kind: 'create', stream: r.s, capacity: r.cap as number, firstOffset: r.next as number };
    case 'append': {
      const op: ShardOp = { kind: 'events', stream: r.s, events: r.ev as StoredEvent[] };
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
      return op;
    }
    case 'producers':
      return { kind: 'producers', stream: r.s, producers: r.list as [string, ProducerState][] };
    case 'delete':
      return { kind: 'delete', stream: r.s };
    case 'tomb':
      return { kind: 'tombstone', stream: r.s, nextOffset: r.next as number };
    default:
      throw bad(`unknown kind ${JSON.stringify(r.k)}`);
  }
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
  const head = Buffer.from(
    `{"k":"batch","s":${JSON.stringify(op.stream)},"o":${op.firstOffset},"t":${op.timestamp}${p}${b},"d":`,
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
      case 'batch': {
        const at = next.get(op.stream);
        if (at === undefined) throw bad(i, `appends to ${JSON.stringify(op.stream)}, which it never created`);
        const first = op.kind === 'events' ? op.events[0]?.offset : op.firstOffset;
        const count = op.kind === 'events' ? op.events.length : op.data.length;
        if (first !== at) throw bad(i, `appends at offset ${first}; the stream is at ${at}`);
        next.set(op.stream, at + count);
        return;
      }
      case 'producers':
        if (!next.has(op.stream)) {
          throw bad(i, `lists producers of ${JSON.stringify(op.stream)}, which it never created`);
        }
        return;
      case 'delete':
        next.delete(op.stream);
        return;
      case 'tombstone':
        return;
      default:
        throw bad(i, `has the unknown kind ${JSON.stringify((op as { kind: unknown }).kind)}`);
    }
  });
}
