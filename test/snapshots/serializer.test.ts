import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BinarySnapshotSerializer, ErrorCode, JsonEventCodec, V8EventCodec } from '../../src/index.ts';
import { decodeSnapshotHeader, SNAPSHOT_HEADER_BYTES } from '../../src/snapshots/snapshot-file.ts';
import type { PartitionState } from '../../src/snapshots/types.ts';
import { mulberry32 } from '../helpers/random.ts';

interface Reading {
  id: string;
  value: number;
  tags: string[];
}

function state(n: number): PartitionState<Reading> {
  const events = Array.from({ length: n }, (_, i) => ({
    id: `r-${i}`,
    value: i * 1.5,
    tags: i % 2 ? ['odd'] : [],
  }));
  return { partition: 2, partitions: 4, version: n + 10, takenAtMs: 1_700_000_000_123, events };
}

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
}

describe('BinarySnapshotSerializer', () => {
  for (const compress of [false, true]) {
    it(`round-trips a partition's events, version and time ${compress ? 'with' : 'without'} gzip`, async () => {
      const s = new BinarySnapshotSerializer<Reading>({ compress });
      const original = state(500);
      const restored = await s.deserialize(await s.serialize(original));
      assert.deepEqual(restored, original);
    });
  }

  it('round-trips an empty partition', async () => {
    const s = new BinarySnapshotSerializer<Reading>();
    const original = state(0);
    assert.deepEqual(await s.deserialize(await s.serialize(original)), original);
  });

  it('keeps Dates, Maps and BigInts with the v8 codec', async () => {
    const s = new BinarySnapshotSerializer<{ at: Date; m: Map<string, bigint> }>({
      codec: new V8EventCodec(),
    });
    const events = [{ at: new Date(5), m: new Map([['a', 10n]]) }];
    const out = await s.deserialize(
      await s.serialize({ partition: 0, partitions: 1, version: 1, takenAtMs: 1, events }),
    );
    assert.deepEqual(out.events, events);
  });

  it('writes the fixed header: magic, version, partition, counts and lengths', async () => {
    const bytes = await new BinarySnapshotSerializer<Reading>({ compress: true }).serialize(state(3));
    const h = decodeSnapshotHeader(bytes);
    assert.equal(h.partition, 2);
    assert.equal(h.partitions, 4);
    assert.equal(h.version, 13);
    assert.equal(h.count, 3);
    assert.equal(h.takenAtMs, 1_700_000_000_123);
    assert.equal(h.flags & 1, 1);
    assert.equal(h.payloadLength, bytes.length - SNAPSHOT_HEADER_BYTES);
  });

  it('rejects every truncation of a valid file as corrupt', async () => {
    const s = new BinarySnapshotSerializer<Reading>({ compress: true });
    const bytes = await s.serialize(state(40));
    for (let cut = 0; cut < bytes.length; cut += 7) {
      await rejects(s.deserialize(bytes.subarray(0, cut)), ErrorCode.SNAPSHOT_CORRUPT);
    }
  });

  it('rejects a single flipped bit anywhere in the file as corrupt', async () => {
    const seed = 20261127;
    const rnd = mulberry32(seed);
    for (const compress of [false, true]) {
      const s = new BinarySnapshotSerializer<Reading>({ compress });
      const bytes = await s.serialize(state(20));
      for (let trial = 0; trial < 200; trial++) {
        const copy = Uint8Array.from(bytes);
        const i = Math.floor(rnd() * copy.length);
        copy[i]! ^= 1 << Math.floor(rnd() * 8);
        await assert.rejects(s.deserialize(copy), (err: { code?: string }) => {
          assert.ok(
            err.code === ErrorCode.SNAPSHOT_CORRUPT || err.code === ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
            `seed ${seed} trial ${trial}: byte ${i} flip gave ${String(err.code)}`,
          );
          return true;
        });
      }
    }
  });

  it('rejects fuzzed headers with a valid checksum without allocating from their lengths', async () => {
    const seed = 7;
    const rnd = mulberry32(seed);
    const s = new BinarySnapshotSerializer<Reading>();
    const bytes = Buffer.from(await s.serialize(state(5)));
    const { crc32 } = await import('node:zlib');
    for (let trial = 0; trial < 300; trial++) {
      const copy = Buffer.from(bytes);
      // Count and payload length get any other value; the version gets only impossible ones (a version
      // below the count is the store's to refuse, not the format's: see the restore tests).
      const field = [24, 40, 48][trial % 3]!;
      const bad =
        field === 24
          ? [2 ** 53, -1, 1e300, Number.NaN, 4.5][trial % 5]!
          : [2 ** 52, -1, 1e300, Number.NaN, 6 + Math.floor(rnd() * 1e9)][trial % 5]!;
      copy.writeDoubleLE(bad, field);
      copy.writeUInt32LE(crc32(copy.subarray(0, 56)), 56);
      await assert.rejects(s.deserialize(copy), (err: { code?: string }) => {
        assert.equal(err.code, ErrorCode.SNAPSHOT_CORRUPT, `seed ${seed} trial ${trial}`);
        return true;
      });
    }
  });

  it('refuses a snapshot written with another schema version or codec', async () => {
    const bytes = await new BinarySnapshotSerializer<Reading>({ schemaVersion: 2 }).serialize(state(2));
    await rejects(
      new BinarySnapshotSerializer<Reading>({ schemaVersion: 1 }).deserialize(bytes),
      ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
    );
    await rejects(
      new BinarySnapshotSerializer<Reading>({ schemaVersion: 2, codec: new V8EventCodec() }).deserialize(
        bytes,
      ),
      ErrorCode.SNAPSHOT_SCHEMA_MISMATCH,
    );
  });

  it('refuses to encode a value the JSON codec cannot represent', () => {
    assert.throws(() => new JsonEventCodec().encode({ n: 1n }), { code: ErrorCode.INVALID_ARG });
    assert.throws(() => new JsonEventCodec().encode(undefined), { code: ErrorCode.INVALID_ARG });
  });

  it('validates its options', () => {
    assert.throws(
      () => new BinarySnapshotSerializer({ compress: 'yes' as unknown as boolean }),
      /`compress` must be a boolean/,
    );
    assert.throws(
      () => new BinarySnapshotSerializer({ schemaVersion: 0 }),
      /`schemaVersion` must be an integer/,
    );
  });
});
