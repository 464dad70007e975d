// BinarySnapshotSerializer: the event snapshot of the built-in file format (snapshot-file.ts). Its
// payload (before compression) is the codec name (u16 length + UTF-8), then per event a u32 length
// and the codec's bytes. Encoding and decoding run in slices of ~4 ms that yield to the event loop.

import { ErrorCode, EventStoreError, invalidArg } from '../errors.js';
import { JsonEventCodec } from './codecs.js';
import {
  corrupt,
  encodeSnapshotFile,
  FLAG_GZIP,
  gzipAsync,
  openSnapshotFile,
  resolveSnapshotFileOptions,
  type SnapshotFileOptions,
  zlibChunkSize,
} from './snapshot-file.js';
import type { EventCodec, PartitionState, SnapshotSerializer } from './types.js';

/** Options of {@link BinarySnapshotSerializer}. */
export interface BinarySnapshotSerializerOptions<T> extends SnapshotFileOptions {
  /** @default new JsonEventCodec() */
  codec?: EventCodec<T>;
}

const ENCODE_SLICE_MS = 4;
/** Bytes of events decoded per `decodeMany` call on restore. */
const DECODE_CHUNK_BYTES = 1 << 20;
const CHECK_CLOCK_BYTES = 64 * 1024;

/** Binary snapshot format with checksums, optional gzip, and a pluggable event codec. */
export class BinarySnapshotSerializer<T> implements SnapshotSerializer<T> {
  readonly codec: EventCodec<T>;
  readonly schemaVersion: number;
  readonly compress: boolean;
  readonly maxPayloadBytes: number;

  constructor(options: BinarySnapshotSerializerOptions<T> = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArg('`options` must be an object');
    ({
      compress: this.compress,
      schemaVersion: this.schemaVersion,
      maxPayloadBytes: this.maxPayloadBytes,
    } = resolveSnapshotFileOptions(options));
    this.codec = options.codec ?? new JsonEventCodec<T>();
  }

  /** Encodes the events in slices of ~4 ms, yielding to the event loop between slices. */
  async serialize(state: PartitionState<T>): Promise<Uint8Array> {
    const name = Buffer.from(this.codec.name, 'utf8');
    const encoded: Uint8Array[] = new Array(state.events.length);
    let total = 2 + name.length;
    let sliceStart = performance.now();
    let sinceCheck = 0;
    for (let i = 0; i < state.events.length; i++) {
      const bytes = this.codec.encode(state.events[i] as T);
      encoded[i] = bytes;
      total += 4 + bytes.length;
      sinceCheck += bytes.length;
      // The clock is read every 1024 events, or sooner after large ones (a server shard's events are
      // ops of up to 1000 stream events each), so no slice runs far past its budget.
      if ((i & 1023) === 1023 || sinceCheck >= CHECK_CLOCK_BYTES) {
        sinceCheck = 0;
        if (performance.now() - sliceStart > ENCODE_SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    }
    const payload = Buffer.allocUnsafe(total);
    payload.writeUInt16LE(name.length, 0);
    name.copy(payload, 2);
    let off = 2 + name.length;
    for (const bytes of encoded) {
      payload.writeUInt32LE(bytes.length, off);
      payload.set(bytes, off + 4);
      off += 4 + bytes.length;
    }
    const stored = this.compress
      ? await gzipAsync(payload, { level: 1, chunkSize: zlibChunkSize(payload.length / 4) })
      : payload;
    return encodeSnapshotFile(
      {
        flags: this.compress ? FLAG_GZIP : 0,
        schemaVersion: this.schemaVersion,
        partition: state.partition,
        partitions: state.partitions,
        version: state.version,
        takenAtMs: state.takenAtMs,
        count: state.events.length,
      },
      stored,
    );
  }

  /**
   * Decodes the framed events in groups of ~1 MiB (one `decodeMany` each when the codec has it),
   * yielding to the event loop every ~4 ms: a restore, or a save's read-back beside live traffic,
   * never holds the thread for one whole partition.
   */
  async #decodeSliced(payload: Buffer, starts: number[], lengths: number[]): Promise<T[]> {
    const n = starts.length;
    const events: T[] = new Array(n);
    let sliceStart = performance.now();
    for (let i = 0; i < n; ) {
      let j = i;
      let bytes = 0;
      while (j < n && (j === i || bytes < DECODE_CHUNK_BYTES)) bytes += lengths[j++]!;
      let part: T[];
      try {
        part =
          this.codec.decodeMany !== undefined
            ? this.codec.decodeMany(payload, starts.slice(i, j), lengths.slice(i, j))
            : starts
                .slice(i, j)
                .map((start, k) => this.codec.decode(payload.subarray(start, start + lengths[i + k]!)));
      } catch (err) {
        throw corrupt(`events do not decode: ${(err as Error).message}`, err);
      }
      if (part.length !== j - i) throw corrupt(`events ${i}..${j - 1} decode to ${part.length} values`);
      for (let k = 0; k < part.length; k++) events[i + k] = part[k]!;
      i = j;
      if (performance.now() - sliceStart > ENCODE_SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    return events;
  }

  async deserialize(file: Uint8Array): Promise<PartitionState<T>> {
    const { header: h, payload } = await openSnapshotFile(
      file,
      false,
      this.schemaVersion,
      this.maxPayloadBytes,
    );
    if (payload.length < 2) throw corrupt('payload too short');
    const nameLength = payload.readUInt16LE(0);
    if (2 + nameLength > payload.length) throw corrupt('codec name runs past the payload');
    const name = payload.toString('utf8', 2, 2 + nameLength);
    if (name !== this.codec.name) {
      throw new EventStoreError(
        ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
        `snapshot was written with the '${name}' codec, the serializer uses '${this.codec.name}'`,
      );
    }
    // Frame the events first (every length checked against the bytes present), then decode.
    const starts: number[] = [];
    const lengths: number[] = [];
    let off = 2 + nameLength;
    while (off < payload.length) {
      if (off + 4 > payload.length) throw corrupt(`event ${starts.length} length runs past the payload`);
      const len = payload.readUInt32LE(off);
      off += 4;
      if (off + len > payload.length) throw corrupt(`event ${starts.length} runs past the payload`);
      starts.push(off);
      lengths.push(len);
      off += len;
      if (starts.length > h.count) break;
    }
    if (starts.length !== h.count)
      throw corrupt(`header says ${h.count} events, payload holds ${starts.length}`);
    const events = await this.#decodeSliced(payload, starts, lengths);
    return {
      partition: h.partition,
      partitions: h.partitions,
      version: h.version,
      takenAtMs: h.takenAtMs,
      events,
    };
  }
}
