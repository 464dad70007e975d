// The journal's segment format: the header and record framing, how records are encoded, and the
// parser that reads a segment back. Pure functions of their input, safe from any thread; the writer
// (journal-writer.ts), restore and the `journal inspect` command share them.
//
// Segment file: header  magic 'LFEJ' u32 | format u16 | codec-name length u16 | codec name | partitions u32
//               records u32 body length | u32 crc32(body) | body
//   body: 1 append  u8 | partition u32 | sequence f64 | event bytes
//         2 clear   u8 | n u32 | tail f64 x n          (the partitions' versions when it happened)
//         3 purge   u8 | olderThan f64 | n u32 | tail f64 x n
// A torn or corrupt record ends the valid part of a segment: everything before it is replayed, the rest
// is dropped and reported (a crash can only tear the last write).

import { crc32 } from 'node:zlib';
import { ErrorCode, EventStoreError } from '../errors.js';

/** First four bytes of every segment: 'LFEJ' read as a little-endian u32. */
export const JOURNAL_MAGIC = 0x4a45464c;
/** Segment format version written in the header; another version is refused as corrupt. */
export const JOURNAL_FORMAT_VERSION = 1;
const RECORD_APPEND = 1;
const RECORD_CLEAR = 2;
const RECORD_PURGE = 3;

/** A decoded journal record. */
export type JournalRecord =
  | { type: 'append'; partition: number; sequence: number; event: Uint8Array }
  | { type: 'clear'; tails: number[] }
  | { type: 'purge'; olderThan: number; tails: number[] };

/** The parsed content of one segment. */
export interface ParsedSegment {
  codecName: string;
  partitions: number;
  records: JournalRecord[];
  /** Bytes after the last valid record (a torn tail), 0 when the segment is clean. */
  droppedBytes: number;
}

function corrupt(message: string): EventStoreError {
  return new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid journal segment: ${message}`);
}

/** The header a new segment starts with: magic, format version, the codec's name, the partition count. */
export function encodeSegmentHeader(codecName: string, partitions: number): Buffer {
  const name = Buffer.from(codecName, 'utf8');
  const b = Buffer.allocUnsafe(8 + name.length + 4);
  b.writeUInt32LE(JOURNAL_MAGIC, 0);
  b.writeUInt16LE(JOURNAL_FORMAT_VERSION, 4);
  b.writeUInt16LE(name.length, 6);
  name.copy(b, 8);
  b.writeUInt32LE(partitions, 8 + name.length);
  return b;
}

function frame(body: Buffer): Buffer {
  const b = Buffer.allocUnsafe(8 + body.length);
  b.writeUInt32LE(body.length, 0);
  b.writeUInt32LE(crc32(body), 4);
  body.copy(b, 8);
  return b;
}

/** A framed append record: `event` (encoded by the codec) appended to `partition` at `sequence`. */
export function encodeAppendRecord(partition: number, sequence: number, event: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(8 + 13 + event.length);
  b.writeUInt32LE(13 + event.length, 0);
  b.writeUInt8(RECORD_APPEND, 8);
  b.writeUInt32LE(partition, 9);
  b.writeDoubleLE(sequence, 13);
  b.set(event, 21);
  b.writeUInt32LE(crc32(b.subarray(8)), 4);
  return b;
}

function encodeTails(prefix: Buffer, tails: readonly number[]): Buffer {
  const body = Buffer.allocUnsafe(prefix.length + 4 + 8 * tails.length);
  prefix.copy(body, 0);
  body.writeUInt32LE(tails.length, prefix.length);
  for (let i = 0; i < tails.length; i++) body.writeDoubleLE(tails[i]!, prefix.length + 4 + 8 * i);
  return frame(body);
}

/** A framed clear record; `tails` are the partitions' versions when the clear happened. */
export function encodeClearRecord(tails: readonly number[]): Buffer {
  return encodeTails(Buffer.from([RECORD_CLEAR]), tails);
}

/** A framed purge record of the events older than `olderThan`, at the partitions' versions `tails`. */
export function encodePurgeRecord(olderThan: number, tails: readonly number[]): Buffer {
  const prefix = Buffer.allocUnsafe(9);
  prefix.writeUInt8(RECORD_PURGE, 0);
  prefix.writeDoubleLE(olderThan, 1);
  return encodeTails(prefix, tails);
}

function readTails(body: Buffer, off: number): number[] | undefined {
  if (off + 4 > body.length) return undefined;
  const n = body.readUInt32LE(off);
  if (off + 4 + 8 * n !== body.length) return undefined;
  const tails: number[] = [];
  for (let i = 0; i < n; i++) tails.push(body.readDoubleLE(off + 4 + 8 * i));
  return tails;
}

function decodeBody(body: Buffer): JournalRecord | undefined {
  if (body.length < 1) return undefined;
  const type = body.readUInt8(0);
  if (type === RECORD_APPEND) {
    if (body.length < 13) return undefined;
    const sequence = body.readDoubleLE(5);
    if (!Number.isSafeInteger(sequence) || sequence < 0) return undefined;
    return { type: 'append', partition: body.readUInt32LE(1), sequence, event: body.subarray(13) };
  }
  if (type === RECORD_CLEAR) {
    const tails = readTails(body, 1);
    return tails === undefined ? undefined : { type: 'clear', tails };
  }
  if (type === RECORD_PURGE) {
    if (body.length < 9) return undefined;
    const tails = readTails(body, 9);
    return tails === undefined ? undefined : { type: 'purge', olderThan: body.readDoubleLE(1), tails };
  }
  return undefined;
}

/** Parses a segment. A bad header throws ES_ERR_SNAPSHOT_CORRUPT; a bad record ends the valid part. */
export function parseSegment(bytes: Uint8Array): ParsedSegment {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 12) throw corrupt(`segment is ${b.length} bytes, shorter than its header`);
  if (b.readUInt32LE(0) !== JOURNAL_MAGIC) throw corrupt('bad magic');
  const format = b.readUInt16LE(4);
  if (format !== JOURNAL_FORMAT_VERSION) throw corrupt(`unsupported format version ${format}`);
  const nameLength = b.readUInt16LE(6);
  if (8 + nameLength + 4 > b.length) throw corrupt('header runs past the file');
  const codecName = b.toString('utf8', 8, 8 + nameLength);
  const partitions = b.readUInt32LE(8 + nameLength);
  const records: JournalRecord[] = [];
  let off = 8 + nameLength + 4;
  while (off < b.length) {
    if (off + 8 > b.length) break;
    const len = b.readUInt32LE(off);
    if (off + 8 + len > b.length) break;
    const body = b.subarray(off + 8, off + 8 + len);
    if (crc32(body) !== b.readUInt32LE(off + 4)) break;
    const record = decodeBody(body);
    if (record === undefined) break;
    records.push(record);
    off += 8 + len;
  }
  return { codecName, partitions, records, droppedBytes: b.length - off };
}
