// ColumnarSnapshotSerializer: writes the image of a ColumnarEventStore partition (partition-image.ts)
// as the FLAG_COLUMNAR file format, and reads it back. The columns are written as their raw bytes (one
// copy per column, no per-row encoding), so saving and loading cost about a memcpy of the partition.
// The header and both checksums are those of every snapshot file (snapshots/snapshot-file.ts); every
// length is checked against the bytes present before anything is allocated. A serializer holds only
// its options; it runs on the snapshotter's thread and touches no shared memory.
//
// Payload (before compression), little-endian; `count` (the header) is the number of rows:
//
//   u32 C                                  columns, timestamp first
//   C x { u8 type, u8 reserved, u16 n, n bytes of UTF-8 name }
//                                          type: 0 f64, 1 f32, 2 i32, 3 u32, 4 key
//   u32 K                                  key strings
//   K x u32                                UTF-8 byte length of each key
//   the K keys' UTF-8 bytes, back to back
//   C x count elements                     each column's raw bytes, in column order
//                                          (8 bytes per f64, 4 per f32/i32/u32/key)
//
// A `key` column holds indexes into the K strings (0..K-1), not the store's key ids: the file is
// self-contained, and a restore interns the strings again (ids may differ; strings do not).

import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { ErrorCode, EventStoreError, invalidArg } from '../errors.js';
import {
  encodeSnapshotFile,
  FLAG_COLUMNAR,
  FLAG_GZIP,
  openSnapshotFile,
  resolveSnapshotFileOptions,
  type SnapshotFileOptions,
} from '../snapshots/snapshot-file.js';
import type { EventCodec, PartitionState, SnapshotSerializer } from '../snapshots/types.js';
import { COLUMN_TYPES, type ColumnArray, ELEMENT_BYTES, MAX_COLUMNS, scratchArray } from './columns.js';
import { MAX_KEY_BYTES } from './key-dictionary.js';
import type { ColumnarImageColumn, ColumnarPartitionImage } from './partition-image.js';

const gzipAsync = promisify(gzip);

/** Options of {@link ColumnarSnapshotSerializer}. */
export type ColumnarSnapshotSerializerOptions = SnapshotFileOptions;

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function corrupt(message: string, cause?: unknown): EventStoreError {
  return new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid columnar snapshot: ${message}`, { cause });
}

/** The raw bytes of a typed array (a view, no copy). */
function bytesOf(a: ColumnArray | Uint32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Columnar snapshots store no per-event codec (the columns are raw bytes); this stand-in names the
 * format in journal headers and refuses to encode, since the columnar store has no journal.
 */
class ColumnarNoCodec implements EventCodec<ColumnarPartitionImage> {
  readonly name = 'columnar';

  encode(): Uint8Array {
    throw new EventStoreError(
      ErrorCode.INVALID_STATE,
      'columnar snapshots have no per-event codec (the columnar store has no journal)',
    );
  }

  decode(): ColumnarPartitionImage {
    throw new EventStoreError(
      ErrorCode.INVALID_STATE,
      'columnar snapshots have no per-event codec (the columnar store has no journal)',
    );
  }
}

/**
 * The snapshot serializer of `ColumnarEventStore`: writes each partition's columns as raw bytes in the
 * FLAG_COLUMNAR format (same header and checksums as event snapshots), optionally gzipped.
 *
 * ```ts
 * store.configureSnapshots(options, new ColumnarSnapshotSerializer({ compress: true }), fileStore);
 * ```
 */
export class ColumnarSnapshotSerializer implements SnapshotSerializer<ColumnarPartitionImage> {
  readonly codec: EventCodec<ColumnarPartitionImage> = new ColumnarNoCodec();
  readonly schemaVersion: number;
  readonly compress: boolean;
  readonly maxPayloadBytes: number;

  constructor(options: ColumnarSnapshotSerializerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArg('`options` must be an object');
    for (const key of Object.keys(options)) {
      if (key !== 'compress' && key !== 'schemaVersion' && key !== 'maxPayloadBytes') {
        throw invalidArg(`unknown ColumnarSnapshotSerializer option \`${key}\``);
      }
    }
    if (!LITTLE_ENDIAN) {
      throw new EventStoreError(
        ErrorCode.INVALID_STATE,
        'columnar snapshots are little-endian; this platform is big-endian',
      );
    }
    ({
      compress: this.compress,
      schemaVersion: this.schemaVersion,
      maxPayloadBytes: this.maxPayloadBytes,
    } = resolveSnapshotFileOptions(options));
  }

  async serialize(state: PartitionState<ColumnarPartitionImage>): Promise<Uint8Array> {
    if (state.events.length !== 1) {
      throw invalidArg(`a columnar snapshot holds exactly one image, received ${state.events.length}`);
    }
    const image = state.events[0]!;
    const n = image.length;
    const parts: Uint8Array[] = [];
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(image.columns.length, 0);
    parts.push(head);
    for (const c of image.columns) {
      const name = Buffer.from(c.name, 'utf8');
      const spec = Buffer.allocUnsafe(4);
      spec.writeUInt8(COLUMN_TYPES.indexOf(c.type), 0);
      spec.writeUInt8(0, 1);
      spec.writeUInt16LE(name.length, 2);
      parts.push(spec, name);
    }
    const keyBytes = image.keys.map((k) => Buffer.from(k, 'utf8'));
    const keyLengths = new Uint32Array(keyBytes.length);
    keyBytes.forEach((b, i) => {
      keyLengths[i] = b.length;
    });
    const keyCount = Buffer.allocUnsafe(4);
    keyCount.writeUInt32LE(keyBytes.length, 0);
    parts.push(keyCount, bytesOf(keyLengths), ...keyBytes);
    image.columns.forEach((c, i) => {
      const col = image.data[i]!;
      if (col.length !== n || col.BYTES_PER_ELEMENT !== ELEMENT_BYTES[c.type]) {
        throw invalidArg(`column \`${c.name}\` of the image does not hold ${n} ${c.type} values`);
      }
      parts.push(bytesOf(col));
    });
    const payload = Buffer.concat(parts);
    const stored = this.compress ? await gzipAsync(payload, { level: 1 }) : payload;
    return encodeSnapshotFile(
      {
        flags: FLAG_COLUMNAR | (this.compress ? FLAG_GZIP : 0),
        schemaVersion: this.schemaVersion,
        partition: state.partition,
        partitions: state.partitions,
        version: state.version,
        takenAtMs: state.takenAtMs,
        count: n,
      },
      stored,
    );
  }

  async deserialize(file: Uint8Array): Promise<PartitionState<ColumnarPartitionImage>> {
    const { header: h, payload: p } = await openSnapshotFile(
      file,
      true,
      this.schemaVersion,
      this.maxPayloadBytes,
    );
    const n = h.count;
    let off = 0;
    const need = (bytes: number, what: string): void => {
      if (bytes > p.length - off) throw corrupt(`${what} runs past the payload`);
    };
    need(4, 'column count');
    const columnCount = p.readUInt32LE(off);
    off += 4;
    if (columnCount < 1 || columnCount > MAX_COLUMNS + 1) throw corrupt(`column count ${columnCount}`);
    const columns: ColumnarImageColumn[] = [];
    let rowBytes = 0;
    for (let i = 0; i < columnCount; i++) {
      need(4, `column ${i}`);
      const code = p.readUInt8(off);
      const nameLength = p.readUInt16LE(off + 2);
      off += 4;
      const type = COLUMN_TYPES[code];
      if (type === undefined) throw corrupt(`column ${i} has unknown type code ${code}`);
      need(nameLength, `column ${i} name`);
      let name: string;
      try {
        name = utf8Decoder.decode(p.subarray(off, off + nameLength));
      } catch (err) {
        throw corrupt(`column ${i} name is not UTF-8`, err);
      }
      off += nameLength;
      columns.push({ name, type });
      rowBytes += ELEMENT_BYTES[type];
    }
    if (columns[0]!.name !== 'timestamp' || columns[0]!.type !== 'f64') {
      throw corrupt('the first column is not the timestamp (f64)');
    }
    need(4, 'key count');
    const keyCount = p.readUInt32LE(off);
    off += 4;
    need(keyCount * 4, 'key lengths');
    const keyLengths = new Uint32Array(keyCount);
    new Uint8Array(keyLengths.buffer).set(p.subarray(off, off + keyCount * 4));
    off += keyCount * 4;
    const keys: string[] = new Array(keyCount);
    for (let k = 0; k < keyCount; k++) {
      const len = keyLengths[k]!;
      if (len > MAX_KEY_BYTES) throw corrupt(`key ${k} is ${len} bytes, more than ${MAX_KEY_BYTES}`);
      need(len, `key ${k}`);
      try {
        keys[k] = utf8Decoder.decode(p.subarray(off, off + len));
      } catch (err) {
        throw corrupt(`key ${k} is not UTF-8`, err);
      }
      off += len;
    }
    // The rows: exactly count x (bytes of one row) must remain.
    if ((p.length - off) / rowBytes !== n) {
      throw corrupt(
        `header says ${n} rows of ${rowBytes} bytes, the payload holds ${p.length - off} bytes of columns`,
      );
    }
    const data: ColumnArray[] = [];
    for (const c of columns) {
      const col = scratchArray(c.type, n);
      const bytes = n * ELEMENT_BYTES[c.type];
      // One copy into a fresh, aligned buffer (the payload may sit at any offset of a pooled buffer).
      new Uint8Array(col.buffer).set(p.subarray(off, off + bytes));
      off += bytes;
      data.push(col);
    }
    const ts = data[0]!;
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      if (t - t !== 0) throw corrupt(`row ${i} has a non-finite timestamp`);
    }
    columns.forEach((c, i) => {
      if (c.type !== 'key') return;
      const ids = data[i]!;
      for (let r = 0; r < n; r++) {
        if (ids[r]! >= keyCount)
          throw corrupt(`row ${r} of \`${c.name}\` names key ${ids[r]} of ${keyCount}`);
      }
    });
    return {
      partition: h.partition,
      partitions: h.partitions,
      version: h.version,
      takenAtMs: h.takenAtMs,
      events: [{ columns, length: n, data, keys }],
    };
  }
}
