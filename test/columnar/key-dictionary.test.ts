import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyDictionary } from '../../src/columnar/key-dictionary.ts';
import { ColumnarEventStore, ErrorCode, EventStoreError } from '../../src/index.ts';
import { collect, ready, startWorker } from '../helpers/columnar-harness.ts';
import { STRESS_COLUMNS, type StressSchema } from '../helpers/columnar-rows.ts';

describe('KeyDictionary', () => {
  it('interns each string once, to dense ids, and gives the string back', () => {
    const d = KeyDictionary.create(16, 256, 100);
    assert.equal(d.intern('cpu'), 0);
    assert.equal(d.intern('mem'), 1);
    assert.equal(d.intern('cpu'), 0);
    assert.equal(d.size, 2);
    assert.equal(d.keyOf(1), 'mem');
    assert.equal(d.keyOf(2), undefined);
    assert.equal(d.lookup('disk'), -1);
    assert.equal(d.size, 2, 'lookup never inserts');
  });

  it('shares ids with another instance attached to the same buffer, UTF-8 included', () => {
    const a = KeyDictionary.create(16, 256, 100);
    const b = KeyDictionary.attach(a.buffer, 100);
    const id = a.intern('température 🌡');
    assert.equal(b.lookup('température 🌡'), id);
    assert.equal(b.keyOf(id), 'température 🌡');
    assert.equal(b.intern(''), 1);
    assert.equal(a.keyOf(1), '');
  });

  it('throws ES_ERR_KEY_DICTIONARY_FULL when the ids or the bytes run out, keeping known keys', () => {
    const ids = KeyDictionary.create(2, 1024, 100);
    ids.intern('a');
    ids.intern('b');
    assert.throws(
      () => ids.intern('c'),
      (e: unknown) => e instanceof EventStoreError && e.code === ErrorCode.KEY_DICTIONARY_FULL,
    );
    assert.equal(ids.intern('a'), 0);
    const bytes = KeyDictionary.create(100, 8, 100);
    bytes.intern('abcd');
    assert.throws(
      () => bytes.intern('efghijk'),
      (e: unknown) => e instanceof EventStoreError && e.code === ErrorCode.KEY_DICTIONARY_FULL,
    );
    assert.equal(bytes.intern('abcd'), 0);
  });

  it('gives every key the same id in every worker when several intern them at once', async () => {
    const store = ColumnarEventStore.create<StressSchema>({
      columns: { ...STRESS_COLUMNS },
      partitions: 1,
      capacityPerPartition: 16,
      keyCapacity: 600,
    });
    const keys = Array.from({ length: 500 }, (_, i) => `key-${i}-${'x'.repeat(i % 13)}`);
    const sync = new SharedArrayBuffer(8);
    const workers = [1, 2, 3].map((seed) =>
      startWorker({ role: 'interner', handle: store.handle, sync, keys, seed }),
    );
    const results = workers.map((w) => collect<{ ids: Record<string, number> }>(w));
    await Promise.all(workers.map(ready));
    // Release the workers together.
    Atomics.store(new Int32Array(sync), 0, 1);
    Atomics.notify(new Int32Array(sync), 0);
    const maps = (await Promise.all(results)).map((m) => m[0]!.ids);
    assert.deepEqual(maps[1], maps[0]);
    assert.deepEqual(maps[2], maps[0]);
    const ids = Object.values(maps[0]!).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 500 }, (_, i) => i),
      'ids are dense and unique',
    );
    assert.equal(store.statistics.keys, 500);
    for (const k of keys) assert.equal(store.keyOf(maps[0]![k]!), k);
  });
});
