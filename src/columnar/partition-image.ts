// ColumnarPartitionImage: the rows of one ColumnarEventStore partition as columns, what a columnar
// snapshot holds (snapshot-serializer.ts writes it); and PartitionImages, which captures an image from
// a live partition, checks one, and writes one back, for the store's Snapshotter. Concurrency: a
// capture runs on the snapshotter's thread while any thread appends, through the validated read of
// queries (query/scan.ts); a restore only while no other thread uses the partition.

import { ErrorCode, EventStoreError } from '../errors.js';
import type { SnapshotTarget } from '../snapshots/snapshotter.js';
import type { ColumnarPartition } from './columnar-partition.js';
import {
  COLUMN_ARRAYS,
  type ColumnArray,
  type ColumnSpec,
  type ColumnType,
  scratchArray,
} from './columns.js';
import type { KeyDictionary } from './key-dictionary.js';
import { NO_FLOOR, READABLE_MASK } from './layout.js';
import { scan } from './query/scan.js';
import type { Noise } from './test-hooks.js';

/** One column of a {@link ColumnarPartitionImage}: its name and storage type. */
export interface ColumnarImageColumn {
  readonly name: string;
  readonly type: ColumnType;
}

/**
 * The captured rows of one ColumnarEventStore partition, as columns: what a columnar snapshot holds.
 * The `PartitionState.events` of a columnar snapshot is an array of exactly one image.
 */
export interface ColumnarPartitionImage {
  /** The columns, `timestamp` (f64) first, in the store's order. */
  readonly columns: readonly ColumnarImageColumn[];
  /** Rows, oldest first. */
  readonly length: number;
  /**
   * One typed array of `length` elements per column, in `columns` order. A `key` column holds
   * indexes into `keys`.
   */
  readonly data: readonly ColumnArray[];
  /** The key strings the rows use. */
  readonly keys: readonly string[];
}

/**
 * Captures, checks and restores the partition images of one store, on the thread that runs its
 * snapshotter (it keeps a thread-local scratch for the key lists of captures).
 */
export class PartitionImages {
  readonly #specs: readonly ColumnSpec[];
  readonly #keys: KeyDictionary;
  /** Key id -> index into a capture's key list (-1: not used yet); reset after each capture. */
  #keyIndex = new Int32Array(0);

  constructor(specs: readonly ColumnSpec[], keys: KeyDictionary) {
    this.#specs = specs;
    this.#keys = keys;
  }

  /**
   * A consistent copy of `part`'s published rows, through the validated read path of queries:
   * every row is one that was published before the cursor load, none torn. The rows are the
   * contiguous run of sequences that ends at that cursor (a run broken by an overwrite during the read
   * restarts after it). `version` is the cursor's unwrapped position.
   */
  capture(
    part: ColumnarPartition,
    noise: Noise | undefined,
  ): { version: number; image: ColumnarPartitionImage } {
    const seq = part.sequencer;
    const cols = part.columns;
    const specs = this.#specs;
    const cap = seq.capacity;
    const stamps = seq.stamps;
    let out: ColumnArray[] = [];
    let length = 0;
    let version = 0;
    scan(
      seq,
      noise,
      (a, n) => {
        let m = 0;
        let slot = a % cap;
        if (seq.allPublished) {
          // Every row of the range is published: copy whole slot ranges (two when the chunk wraps).
          for (let left = n; left > 0; ) {
            const len = Math.min(left, cap - slot);
            for (let c = 0; c < cols.length; c++) {
              out[c]!.set(cols[c]!.subarray(slot, slot + len), length + m);
            }
            m += len;
            left -= len;
            slot = 0;
          }
          return m;
        }
        let z = a;
        for (let j = 0; j < n; j++) {
          if ((stamps[slot]! & READABLE_MASK) === z) {
            for (let c = 0; c < cols.length; c++) out[c]![length + m] = cols[c]![slot]!;
            m++;
          }
          if (++slot === cap) slot = 0;
          if (++z === seq.modulus) z = 0;
        }
        return m;
      },
      (m) => {
        length += m;
      },
      {
        begin: (cursor, lo) => {
          version = part.position(cursor);
          const rows = seq.delta(cursor, lo);
          out = specs.map((s) => scratchArray(s.type, rows));
        },
        restart: () => {
          length = 0;
        },
      },
    );
    // Key columns: store ids -> indexes into the capture's own key list.
    const keys: string[] = [];
    const used: number[] = [];
    const size = this.#keys.size;
    if (this.#keyIndex.length < size) this.#keyIndex = new Int32Array(size).fill(-1);
    let index = this.#keyIndex;
    for (const s of specs) {
      if (s.type !== 'key') continue;
      const col = out[s.index]!;
      for (let i = 0; i < length; i++) {
        const id = col[i]!;
        if (id >= index.length) {
          const bigger = new Int32Array(Math.max(id + 1, index.length * 2)).fill(-1);
          bigger.set(index);
          this.#keyIndex = index = bigger;
        }
        let k = index[id]!;
        if (k < 0) {
          const key = this.#keys.keyOf(id);
          if (key === undefined) {
            throw new EventStoreError(
              ErrorCode.INVALID_STATE,
              `row of partition ${part.index} names unknown key id ${id}`,
            );
          }
          k = keys.length;
          keys.push(key);
          used.push(id);
          index[id] = k;
        }
        col[i] = k;
      }
    }
    for (const id of used) index[id] = -1;
    return {
      version,
      image: {
        columns: specs.map((s) => ({ name: s.name, type: s.type })),
        length,
        data: out.map((col) => col.subarray(0, length)),
        keys,
      },
    };
  }

  /**
   * Throws unless `image` is a partition image partition `p` of this store can restore at `version`: its columns are
   * this store's (else ES_ERR_SNAPSHOT_SCHEMA_MISMATCH), and every column is a typed array of the
   * right type holding `length` rows, every key index names a key, `length <= version` (else
   * ES_ERR_SNAPSHOT_CORRUPT). Changes nothing.
   */
  check(p: number, images: readonly ColumnarPartitionImage[], version: number): void {
    const bad = (why: string): EventStoreError =>
      new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, `invalid columnar snapshot of partition ${p}: ${why}`);
    if (images.length !== 1)
      throw bad(`a columnar snapshot holds exactly one image, received ${images.length}`);
    const image = images[0]!;
    const specs = this.#specs;
    if (
      typeof image !== 'object' ||
      image === null ||
      !Array.isArray(image.columns) ||
      !Array.isArray(image.data) ||
      !Array.isArray(image.keys) ||
      !Number.isSafeInteger(image.length) ||
      image.length < 0
    ) {
      throw bad('it is not a partition image (was it written by a ColumnarSnapshotSerializer?)');
    }
    const same =
      image.columns.length === specs.length &&
      image.columns.every((c, i) => c.name === specs[i]!.name && c.type === specs[i]!.type);
    if (!same) {
      const list = (cs: readonly { name: string; type: string }[]): string =>
        cs.map((c) => `${c.name} ${c.type}`).join(', ');
      throw new EventStoreError(
        ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
        `snapshot of partition ${p} has columns (${list(image.columns)}); this store has (${list(specs)})`,
      );
    }
    if (!Number.isSafeInteger(version) || version < image.length) {
      throw bad(`version ${version} is below the ${image.length} rows of the snapshot`);
    }
    specs.forEach((s, c) => {
      const col = image.data[c];
      if (!(col instanceof COLUMN_ARRAYS[s.type]) || col.length !== image.length) {
        throw bad(`column \`${s.name}\` does not hold ${image.length} ${s.type} rows`);
      }
      if (s.type !== 'key') return;
      for (let i = 0; i < col.length; i++) {
        if (col[i]! >= image.keys.length) {
          throw bad(`row ${i} of \`${s.name}\` names key ${col[i]} of ${image.keys.length}`);
        }
      }
    });
    if (!image.keys.every((k) => typeof k === 'string')) throw bad('a key is not a string');
  }

  /**
   * Checks `image` and writes it into `part` as the rows just below `version`, then sets the
   * partition's counters to `version`. Only while no other thread uses the partition
   * (restoreFromSnapshots says when).
   */
  restore(part: ColumnarPartition, image: ColumnarPartitionImage, version: number): void {
    this.check(part.index, [image], version);
    const specs = this.#specs;
    const seq = part.sequencer;
    const cols = part.columns;
    const cap = seq.capacity;
    // A smaller ring keeps the newest rows.
    const keep = Math.min(image.length, cap);
    const skip = image.length - keep;
    const start = version - keep;
    const slot0 = start % cap;
    const first = Math.min(keep, cap - slot0);
    const ids = new Uint32Array(image.keys.length);
    image.keys.forEach((key, k) => {
      ids[k] = this.#keys.intern(key);
    });
    for (const s of specs) {
      const src = image.data[s.index]!;
      const dst = cols[s.index]!;
      if (s.type === 'key') {
        let slot = slot0;
        for (let i = skip; i < image.length; i++) {
          dst[slot] = ids[src[i]!]!;
          if (++slot === cap) slot = 0;
        }
      } else {
        dst.set(src.subarray(skip, skip + first), slot0);
        if (first < keep) dst.set(src.subarray(skip + first, image.length), 0);
      }
    }
    // One published batch per row (plain stores, published by restoreState's final store).
    const stamps = seq.stamps;
    let slot = slot0;
    let z = start % seq.modulus;
    for (let i = 0; i < keep; i++) {
      stamps[slot] = z;
      if (++slot === cap) slot = 0;
      if (++z === seq.modulus) z = 0;
    }
    seq.restoreState(version, keep);
    part.restoredAt(version);
  }

  /**
   * The narrow view of a store's `parts` that its snapshotter works through; `noise()` gives a
   * test's reader delays at the time of each capture. Changes are counted from now.
   */
  target(
    parts: readonly ColumnarPartition[],
    totalAppended: () => number,
    noise: () => Noise | undefined,
  ): SnapshotTarget<ColumnarPartitionImage> {
    for (const part of parts) part.watchFloor();
    const noJournal = (): never => {
      throw new EventStoreError(ErrorCode.INVALID_STATE, 'ColumnarEventStore has no delta journal');
    };
    return {
      partitions: parts.length,
      version: (p) => parts[p]!.position(parts[p]!.sequencer.cursor),
      mutations: (p) => parts[p]!.mutations(),
      totalAppended,
      isPristine: () =>
        parts.every(
          ({ sequencer: s }) =>
            s.claimHead === 0 && s.appended === 0 && s.abortedSlots === 0 && s.floor === NO_FLOOR,
        ),
      capture: (p) => {
        const { version, image } = this.capture(parts[p]!, noise());
        return { version, events: [image] };
      },
      check: (p, events, version) => this.check(p, events, version),
      restore: (p, events, version) => this.restore(parts[p]!, events[0]!, version),
      replayAppend: noJournal,
      replayClear: noJournal,
      replayPurge: noJournal,
      setJournalHook: (hook) => {
        if (hook !== undefined) noJournal();
      },
    };
  }
}
