import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { bytesPerRow, resolveColumns } from '../../src/columnar/columns.ts';
import {
  abortedStamp,
  claimedStamp,
  controlIndex,
  F_CLAIM,
  F_CURSOR,
  LINE_WORDS,
  layoutKeys,
  layoutRows,
  READABLE_MASK,
  SEQ_MASK,
  STAMP_EMPTY,
  sequenceModulus,
} from '../../src/columnar/layout.ts';
import { ColumnarEventStore } from '../../src/index.ts';
import { interiorStamp } from '../helpers/columnar-control.ts';

describe('columnar layout', () => {
  it('starts every column on an 8-byte boundary, and on a 128-byte line with padding', () => {
    const bytes = [8, 4, 8, 4]; // timestamp f64, u32, f64, key
    for (const align of [8, 128]) {
      const { partitions, byteLength } = layoutRows([3, 5, 7], bytes, align);
      for (const p of partitions) {
        assert.equal(p.stampsOffset % align, 0);
        for (const off of p.columnOffsets) assert.equal(off % Math.max(align, 8), 0);
      }
      for (let i = 1; i < partitions.length; i++) {
        const prev = partitions[i - 1]!;
        const lastEnd = prev.columnOffsets[3]! + prev.capacity * 4;
        assert.ok(partitions[i]!.stampsOffset >= lastEnd, 'partitions do not overlap');
      }
      assert.equal(byteLength % 8, 0);
    }
  });

  it('puts every hot counter on its own 128-byte line when padded, and packs them otherwise', () => {
    const padded = new Set<number>();
    for (let p = 0; p < 3; p++) {
      for (const f of [F_CLAIM, F_CURSOR])
        padded.add(Math.floor(controlIndex(p, f, LINE_WORDS) / LINE_WORDS));
    }
    assert.equal(padded.size, 6);
    assert.equal(controlIndex(0, F_CURSOR, 1) - controlIndex(0, F_CLAIM, 1), 1);
  });

  it('keeps the sequence modulus a multiple of the capacity, below the EMPTY stamp sequence', () => {
    for (const cap of [1, 3, 1000, 65_536, 1 << 24]) {
      const m = sequenceModulus(cap);
      assert.equal(m % cap, 0);
      assert.ok(m <= SEQ_MASK && m / cap >= 63, `capacity ${cap}`);
    }
  });

  it('encodes stamps so that only PUBLISHED and INTERIOR of the same sequence read as a row', () => {
    const z = 123_456;
    assert.equal(z & READABLE_MASK, z);
    assert.equal(interiorStamp(z) & READABLE_MASK, z);
    assert.notEqual(claimedStamp(z) & READABLE_MASK, z);
    assert.notEqual(abortedStamp(z) & READABLE_MASK, z);
    assert.notEqual(STAMP_EMPTY & READABLE_MASK, 0);
    assert.notEqual((z + 1) & READABLE_MASK, z);
  });

  it('costs 24 bytes per row for (timestamp, f64 value, key)', () => {
    assert.equal(bytesPerRow(resolveColumns({ value: 'f64', label: 'key' })), 24);
    const store = ColumnarEventStore.create({
      columns: { value: 'f64', label: 'key' },
      partitions: 1,
      capacityPerPartition: 1000,
    });
    assert.ok(store.handle.rows.byteLength <= 24 * 1000 + 64);
  });

  it('sizes the key table to at least twice the key capacity, as a power of two', () => {
    const k = layoutKeys(1000, 4096);
    assert.equal(k.tableSize, 2048);
    assert.equal(k.arenaOffset % 4, 0);
  });

  it('keeps src/columnar free of worker_threads and Node I/O imports', () => {
    const dir = new URL('../../src/columnar/', import.meta.url);
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    assert.ok(files.includes('columnar-event-store.ts') && files.some((f) => f.startsWith('query')));
    for (const file of files) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      assert.doesNotMatch(text, /from 'node:(worker_threads|fs|net|http|child_process)'/, file);
    }
  });
});
