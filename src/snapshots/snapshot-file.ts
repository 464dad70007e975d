// The snapshot file: a fixed 64-byte header followed by the payload, and the file options every
// serializer takes. Every length is checked against the bytes actually present before anything is
// allocated, so a corrupt or hostile file is rejected cleanly (ES_ERR_SNAPSHOT_CORRUPT), never trusted.
// Pure functions (zlib runs in the thread pool).
//
//   0  magic 'LFES'        4  format version u16   6  flags u16 (1 = gzip payload, 2 = columnar)
//   8  schema version u32  12 partition u32        16 partitions u32       20 reserved u32
//   24 version f64         32 taken-at ms f64      40 count f64            48 payload length f64
//   56 header crc32 u32    60 payload crc32 u32    64 payload ...

import { promisify } from 'node:util';
import { crc32, gunzip, gzip } from 'node:zlib';
import { ErrorCode, EventStoreError, ensureBoolean, ensureInteger } from '../errors.js';

/** `zlib.gzip` as a promise: compresses off the thread, in libuv's pool. */
export const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** First four bytes of every snapshot file: 'LFES' read as a little-endian u32. */
export const SNAPSHOT_MAGIC = 0x5345464c;
/** Format version written in the header; another version is refused as corrupt. */
export const SNAPSHOT_FORMAT_VERSION = 1;
/** Size of the header before the payload. */
export const SNAPSHOT_HEADER_BYTES = 64;
/** Header flag: the payload is gzipped. */
export const FLAG_GZIP = 1;
/** Header flag: the payload is a columnar partition image, not events. */
export const FLAG_COLUMNAR = 2;
/** Default bound on a decompressed payload, against decompression bombs. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 2 ** 31 - 1;

/** The decoded fixed header of a snapshot file. */
export interface SnapshotHeader {
  formatVersion: number;
  flags: number;
  schemaVersion: number;
  partition: number;
  partitions: number;
  version: number;
  takenAtMs: number;
  count: number;
  payloadLength: number;
  payloadCrc: number;
}

/** An ES_ERR_SNAPSHOT_CORRUPT error: "invalid snapshot: <message>". */
export function corrupt(message: string, cause?: unknown): EventStoreError {
  return new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid snapshot: ${message}`, { cause });
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Encodes a header and prepends it to `payload`, computing both checksums. */
export function encodeSnapshotFile(
  h: Omit<SnapshotHeader, 'payloadLength' | 'payloadCrc' | 'formatVersion'>,
  payload: Uint8Array,
): Buffer {
  const file = Buffer.allocUnsafe(SNAPSHOT_HEADER_BYTES + payload.length);
  file.writeUInt32LE(SNAPSHOT_MAGIC, 0);
  file.writeUInt16LE(SNAPSHOT_FORMAT_VERSION, 4);
  file.writeUInt16LE(h.flags, 6);
  file.writeUInt32LE(h.schemaVersion, 8);
  file.writeUInt32LE(h.partition, 12);
  file.writeUInt32LE(h.partitions, 16);
  file.writeUInt32LE(0, 20);
  file.writeDoubleLE(h.version, 24);
  file.writeDoubleLE(h.takenAtMs, 32);
  file.writeDoubleLE(h.count, 40);
  file.writeDoubleLE(payload.length, 48);
  file.writeUInt32LE(crc32(file.subarray(0, 56)), 56);
  file.writeUInt32LE(crc32(payload), 60);
  file.set(payload, SNAPSHOT_HEADER_BYTES);
  return file;
}

/** Decodes and checks the header of a snapshot file (magic, version, header checksum, lengths). */
export function decodeSnapshotHeader(file: Uint8Array): SnapshotHeader {
  if (file.length < SNAPSHOT_HEADER_BYTES)
    throw corrupt(`file is ${file.length} bytes, shorter than the header`);
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (b.readUInt32LE(0) !== SNAPSHOT_MAGIC) throw corrupt('bad magic (not a lockfree-eventstore snapshot)');
  const formatVersion = b.readUInt16LE(4);
  if (crc32(b.subarray(0, 56)) !== b.readUInt32LE(56)) throw corrupt('header checksum mismatch');
  if (formatVersion !== SNAPSHOT_FORMAT_VERSION) throw corrupt(`unsupported format version ${formatVersion}`);
  const h: SnapshotHeader = {
    formatVersion,
    flags: b.readUInt16LE(6),
    schemaVersion: b.readUInt32LE(8),
    partition: b.readUInt32LE(12),
    partitions: b.readUInt32LE(16),
    version: b.readDoubleLE(24),
    takenAtMs: b.readDoubleLE(32),
    count: b.readDoubleLE(40),
    payloadLength: b.readDoubleLE(48),
    payloadCrc: b.readUInt32LE(60),
  };
  // `count` is not bounded by `version`: a store may capture more records than its version counts
  // (a server shard captures several ops per stream), so each is only checked to be a count.
  if (!isCount(h.version) || !isCount(h.count)) throw corrupt('version/count out of range');
  if (!Number.isFinite(h.takenAtMs)) throw corrupt('taken-at time out of range');
  if (h.partitions < 1 || h.partition >= h.partitions) throw corrupt('partition index out of range');
  if (h.payloadLength !== file.length - SNAPSHOT_HEADER_BYTES) {
    throw corrupt(
      `payload length ${h.payloadLength} does not match the ${file.length - SNAPSHOT_HEADER_BYTES} bytes present (truncated?)`,
    );
  }
  return h;
}

/**
 * Output chunk size for a zlib call expected to produce about `bytes`: with zlib's default 16 KiB a
 * 60 MB payload takes thousands of thread-pool round trips (gunzip ran 3-4x slower). At most 1 MiB.
 */
export function zlibChunkSize(bytes: number): number {
  return Math.min(1 << 20, Math.max(16 * 1024, 2 ** Math.ceil(Math.log2(Math.max(1, bytes)))));
}

/** Checks the payload checksum and returns the (decompressed) payload. */
export async function readSnapshotPayload(
  file: Uint8Array,
  h: SnapshotHeader,
  maxPayloadBytes: number,
): Promise<Buffer> {
  const stored = Buffer.from(file.buffer, file.byteOffset + SNAPSHOT_HEADER_BYTES, h.payloadLength);
  if (crc32(stored) !== h.payloadCrc) throw corrupt('payload checksum mismatch');
  if ((h.flags & FLAG_GZIP) === 0) return stored;
  try {
    return await gunzipAsync(stored, {
      maxOutputLength: Math.min(maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES),
      chunkSize: zlibChunkSize(stored.length * 8),
    });
  } catch (err) {
    throw corrupt(`payload does not decompress: ${(err as Error).message}`, err);
  }
}

/**
 * Checks a snapshot file's header, kind (event or columnar) and schema version, then its payload
 * checksum; returns the header and the (decompressed) payload. Shared by both serializers.
 */
export async function openSnapshotFile(
  file: Uint8Array,
  columnar: boolean,
  schemaVersion: number,
  maxPayloadBytes: number,
): Promise<{ header: SnapshotHeader; payload: Buffer }> {
  const header = decodeSnapshotHeader(file);
  if (((header.flags & FLAG_COLUMNAR) !== 0) !== columnar) {
    throw new EventStoreError(
      ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
      columnar
        ? 'this is an event snapshot (EventStore), not a columnar snapshot'
        : 'this is a ColumnarEventStore snapshot; an EventStore cannot restore it',
    );
  }
  if (header.schemaVersion !== schemaVersion) {
    throw new EventStoreError(
      ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
      `snapshot schema version ${header.schemaVersion} does not match the serializer's ${schemaVersion}`,
    );
  }
  return { header, payload: await readSnapshotPayload(file, header, maxPayloadBytes) };
}

/** The options of the snapshot file that every serializer takes. */
export interface SnapshotFileOptions {
  /** gzip the payload (level 1, in the thread pool). @default false */
  compress?: boolean;
  /** Written into every file and required to match on restore. @default 1 */
  schemaVersion?: number;
  /** Largest decompressed payload accepted. @default 2 GiB - 1 */
  maxPayloadBytes?: number;
}

/** {@link SnapshotFileOptions} validated, with their defaults. */
export function resolveSnapshotFileOptions(options: SnapshotFileOptions): Required<SnapshotFileOptions> {
  return {
    compress: ensureBoolean('compress', options.compress, false),
    schemaVersion:
      options.schemaVersion === undefined
        ? 1
        : ensureInteger('schemaVersion', options.schemaVersion, 1, 2 ** 32 - 1),
    maxPayloadBytes:
      options.maxPayloadBytes === undefined
        ? DEFAULT_MAX_PAYLOAD_BYTES
        : ensureInteger('maxPayloadBytes', options.maxPayloadBytes, 1, DEFAULT_MAX_PAYLOAD_BYTES),
  };
}
