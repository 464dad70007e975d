import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ColumnarEventStore, ErrorCode, EventStoreError, partitionForKey } from '../../src/index.ts';
import { mulberry32 } from '../helpers/random.ts';

const COLUMNS = { value: 'f64', label: 'key', n: 'i32', u: 'u32', f: 'f32' } as const;
type Schema = { -readonly [K in keyof typeof COLUMNS]: (typeof COLUMNS)[K] };
type Row = { timestamp: number; value: number; label: string; n: number; u: number; f: number };

function makeStore(options: Partial<Parameters<typeof ColumnarEventStore.create<Schema>>[0]> = {}) {
  return ColumnarEventStore.create<Schema>({
    columns: { ...COLUMNS },
    partitions: 3,
    capacityPerPartition: 64,
    ...options,
  });
}

function randomRows(seed: number, n: number): Row[] {
  const rnd = mulberry32(seed);
  const labels = ['cpu', 'mem', 'disk', 'net', 'gpu'];
  return Array.from({ length: n }, (_, i) => ({
    timestamp: 1000 + Math.floor(rnd() * 500),
    value: Math.round(rnd() * 2000 - 1000) / 8,
    label: labels[Math.floor(rnd() * labels.length)]!,
    n: Math.floor(rnd() * 200) - 100,
    u: i,
    f: Math.fround(rnd()),
  }));
}

function isInvalidArg(name: string) {
  return (e: unknown) =>
    e instanceof EventStoreError && e.code === ErrorCode.INVALID_ARG && e.message.includes(name);
}

/** Reference: the rows a store of one partition holding `rows` in order keeps (the newest `cap`). */
function reference(rows: Row[], q: { from?: number; to?: number; label?: string } = {}) {
  return rows.filter(
    (r) =>
      (q.from === undefined || r.timestamp >= q.from) &&
      (q.to === undefined || r.timestamp <= q.to) &&
      (q.label === undefined || r.label === q.label),
  );
}

describe('ColumnarEventStore appends', () => {
  it('appends rows, batches and columns and returns them in snapshot order per partition', () => {
    const store = makeStore({ partitions: 1 });
    const rows = randomRows(1, 30);
    assert.equal(store.tryAppend(rows[0]!), true);
    assert.equal(store.tryAppendBatch(rows.slice(1, 20)), 19);
    const rest = rows.slice(20);
    assert.equal(
      store.tryAppendColumns({
        timestamp: new Float64Array(rest.map((r) => r.timestamp)),
        value: rest.map((r) => r.value),
        label: rest.map((r) => r.label),
        n: new Int32Array(rest.map((r) => r.n)),
        u: new Uint32Array(rest.map((r) => r.u)),
        f: new Float32Array(rest.map((r) => r.f)),
      }),
      10,
    );
    assert.deepEqual(store.snapshot(), rows);
    assert.equal(store.size, 30);
    assert.equal(store.statistics.totalAppended, 30);
  });

  it('accepts key ids in a Uint32Array for key columns of tryAppendColumns', () => {
    const store = makeStore({ partitions: 1 });
    const cpu = store.keyId('cpu');
    const n = store.tryAppendColumns({
      timestamp: [1, 2],
      value: [1, 2],
      label: new Uint32Array([cpu, cpu]),
      n: [0, 0],
      u: [0, 0],
      f: [0, 0],
    });
    assert.equal(n, 2);
    assert.equal(store.count({ where: { label: 'cpu' } }), 2);
    assert.throws(
      () =>
        store.tryAppendColumns({
          timestamp: [1],
          value: [1],
          label: new Uint32Array([99]),
          n: [0],
          u: [0],
          f: [0],
        }),
      isInvalidArg('label'),
    );
  });

  it('keeps the newest capacity rows of a partition, overwriting the oldest', () => {
    const store = makeStore({ partitions: 1, capacityPerPartition: 8 });
    const rows = randomRows(2, 50);
    for (const r of rows) store.tryAppend(r);
    assert.deepEqual(store.snapshot(), rows.slice(42));
    assert.equal(store.count(), 8);
    assert.equal(store.statistics.totalAppended, 50);
  });

  it('routes by explicit partition, by the partitionKey hash, or round-robin', () => {
    const byKey = makeStore({ partitionKey: 'label', partitions: 4 });
    const rows = randomRows(3, 40);
    byKey.tryAppendBatch(rows.slice(0, 20));
    for (const r of rows.slice(20)) byKey.tryAppend(r);
    for (let p = 0; p < 4; p++) {
      const here = byKey.snapshotColumns({ partition: p });
      for (let i = 0; i < here.length; i++) {
        assert.equal(partitionForKey(byKey.keyOf(here.columns.label[i]!)!, 4), p);
      }
    }
    assert.equal(byKey.count(), 40);
    const rr = makeStore({ partitions: 3 });
    for (const r of rows.slice(0, 9)) rr.tryAppend(r);
    for (let p = 0; p < 3; p++) assert.equal(rr.count({ partition: p }), 3);
    const explicit = makeStore({ partitions: 3 });
    explicit.tryAppendBatch(rows.slice(0, 5), 2);
    assert.equal(explicit.count({ partition: 2 }), 5);
    assert.throws(() => explicit.tryAppend(rows[0]!, 3), isInvalidArg('partition'));
  });

  it('splits a keyed column batch by partition, keeping each partition in append order', () => {
    const store = makeStore({ partitionKey: 'label', partitions: 3, capacityPerPartition: 4096 });
    const rows = randomRows(11, 2000);
    const n = store.tryAppendColumns({
      timestamp: rows.map((r) => r.timestamp),
      value: rows.map((r) => r.value),
      label: rows.map((r) => r.label),
      n: rows.map((r) => r.n),
      u: rows.map((r) => r.u),
      f: rows.map((r) => r.f),
    });
    assert.equal(n, 2000);
    for (let p = 0; p < 3; p++) {
      const want = rows.filter((r) => partitionForKey(r.label, 3) === p).map((r) => r.u);
      assert.deepEqual(Array.from(store.snapshotColumns({ partition: p }).columns.u), want);
    }
  });

  it('validates every row before appending any of a batch', () => {
    const store = makeStore({ partitions: 1 });
    const rows = randomRows(4, 3);
    const bad = [rows[0]!, { ...rows[1]!, value: 'x' as unknown as number }, rows[2]!];
    assert.throws(() => store.tryAppendBatch(bad), isInvalidArg('rows[1].value'));
    assert.equal(store.count(), 0);
    assert.throws(() => store.tryAppend({ ...rows[0]!, timestamp: Number.NaN }), isInvalidArg('timestamp'));
    assert.throws(() => store.tryAppend({ ...rows[0]!, n: 1.5 }), isInvalidArg('row.n'));
    assert.throws(() => store.tryAppend({ ...rows[0]!, u: -1 }), isInvalidArg('row.u'));
    assert.throws(
      () => store.tryAppend({ ...rows[0]!, label: 5 as unknown as string }),
      isInvalidArg('row.label'),
    );
    assert.throws(() => store.tryAppend(null as unknown as Row), isInvalidArg('row'));
    assert.equal(store.count(), 0);
  });

  it('throws ES_ERR_KEY_DICTIONARY_FULL and appends nothing when a new key finds no room', () => {
    const store = makeStore({ keyCapacity: 2 });
    const rows = randomRows(5, 1);
    store.tryAppend({ ...rows[0]!, label: 'a' });
    store.tryAppend({ ...rows[0]!, label: 'b' });
    assert.throws(
      () =>
        store.tryAppendBatch([
          { ...rows[0]!, label: 'a' },
          { ...rows[0]!, label: 'c' },
        ]),
      (e: unknown) => e instanceof EventStoreError && e.code === ErrorCode.KEY_DICTIONARY_FULL,
    );
    assert.equal(store.count(), 2);
  });
});

describe('ColumnarEventStore queries', () => {
  const rows = randomRows(6, 150);
  const store = makeStore({ partitions: 1, capacityPerPartition: 200 });
  store.tryAppendBatch(rows);

  it('answers count, sum, average, min, max and window like a reference filter', () => {
    for (const q of [{}, { from: 1100 }, { to: 1300 }, { from: 1200, to: 1250 }, { from: 2000 }]) {
      const ref = reference(rows, q);
      const values = ref.map((r) => r.value);
      const sum = values.reduce((a, b) => a + b, 0);
      assert.equal(store.count(q), ref.length);
      assert.equal(store.sum('value', q), sum);
      assert.equal(store.min('value', q), ref.length ? Math.min(...values) : undefined);
      assert.equal(store.max('value', q), ref.length ? Math.max(...values) : undefined);
      assert.equal(store.average('value', q), ref.length ? sum / ref.length : undefined);
      assert.deepEqual(
        store.window('value', q),
        ref.length
          ? {
              count: ref.length,
              sum,
              min: Math.min(...values),
              max: Math.max(...values),
              average: sum / ref.length,
            }
          : { count: 0, sum: 0, min: undefined, max: undefined, average: undefined },
      );
    }
    assert.equal(
      store.sum('n'),
      rows.reduce((a, r) => a + r.n, 0),
    );
    assert.equal(store.max('timestamp'), Math.max(...rows.map((r) => r.timestamp)));
  });

  it('filters by where on key columns and by a row predicate over the column arrays', () => {
    const cpu = reference(rows, { label: 'cpu' });
    assert.equal(store.count({ where: { label: 'cpu' } }), cpu.length);
    assert.equal(
      store.sum('value', { where: { label: 'cpu' }, from: 1100 }),
      reference(rows, { label: 'cpu', from: 1100 }).reduce((a, r) => a + r.value, 0),
    );
    assert.equal(store.count({ where: { label: 'never-seen' } }), 0);
    const positive = rows.filter((r) => r.n > 0);
    assert.equal(store.count({ filter: (cols, slot) => cols.n[slot]! > 0 }), positive.length);
    const cpuId = store.keyId('cpu');
    assert.equal(
      store.count({ filter: (cols, slot) => cols.label[slot] === cpuId && cols.n[slot]! > 0 }),
      positive.filter((r) => r.label === 'cpu').length,
    );
  });

  it('groups by a key column and ranks the topK keys by sum, descending', () => {
    const ref = new Map<string, { count: number; sum: number; min: number; max: number }>();
    for (const r of reference(rows, { from: 1100 })) {
      const g = ref.get(r.label) ?? { count: 0, sum: 0, min: Infinity, max: -Infinity };
      g.count++;
      g.sum += r.value;
      g.min = Math.min(g.min, r.value);
      g.max = Math.max(g.max, r.value);
      ref.set(r.label, g);
    }
    const groups = store.groupBy('label', 'value', { from: 1100 });
    assert.equal(groups.size, ref.size);
    for (const [k, g] of ref) assert.deepEqual(groups.get(k), { ...g, average: g.sum / g.count });
    const top = store.topK('label', 'value', 2, { from: 1100 });
    const want = [...ref.entries()].sort((a, b) => b[1].sum - a[1].sum).slice(0, 2);
    assert.deepEqual(
      top.map((t) => [t.key, t.sum]),
      want.map(([k, g]) => [k, g.sum]),
    );
    assert.deepEqual(store.topK('label', 'value', 0), []);
  });

  it('hides everything published before clear() and keeps appending after it', () => {
    const s = makeStore({ partitions: 2 });
    s.tryAppendBatch(randomRows(7, 20));
    s.clear();
    assert.equal(s.count(), 0);
    assert.deepEqual(s.snapshot(), []);
    s.tryAppendBatch(randomRows(8, 5));
    assert.equal(s.count(), 5);
  });

  it('rejects from/to with ES_ERR_WINDOW_TRACKING_DISABLED when window tracking is off', () => {
    const s = makeStore({ enableWindowTracking: false });
    s.tryAppendBatch(randomRows(9, 3));
    assert.equal(s.count(), 3);
    assert.throws(
      () => s.sum('value', { from: 0 }),
      (e: unknown) =>
        e instanceof EventStoreError &&
        e.code === ErrorCode.WINDOW_TRACKING_DISABLED &&
        e.message === 'Window tracking is disabled. enableWindowTracking must be true to use window queries.',
    );
  });

  it('rejects bad query arguments with ES_ERR_INVALID_ARG', () => {
    assert.throws(() => store.sum('label' as 'value'), isInvalidArg('label'));
    assert.throws(() => store.groupBy('value' as 'label', 'value'), isInvalidArg('keyColumn'));
    assert.throws(() => store.count({ partition: 5 }), isInvalidArg('partition'));
    assert.throws(() => store.count({ where: { value: 'x' } as never }), isInvalidArg('where'));
    assert.throws(() => store.count({ bogus: 1 } as never), isInvalidArg('bogus'));
    assert.throws(() => store.count({ from: 'yesterday' as never }), isInvalidArg('from'));
    assert.throws(() => store.topK('label', 'value', -1), isInvalidArg('k'));
  });
});

describe('ColumnarEventStore options and handle', () => {
  it('validates every option, naming it and the value received', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ columns: { value: 'f16' } }, 'columns.value'],
      [{ columns: { timestamp: 'f64' } }, 'columns.timestamp'],
      [{ columns: { 'bad name': 'f64' } }, 'columns'],
      [{ columns: 5 }, 'columns'],
      [{ columns: {}, capacity: 0 }, 'capacity'],
      [{ columns: {}, capacity: 2, partitions: 4 }, 'capacity'],
      [{ columns: {}, capacity: 10, capacityPerPartition: 5 }, 'capacityPerPartition'],
      [{ columns: {}, capacityPerPartition: 2 ** 25 }, 'capacityPerPartition'],
      [{ columns: {}, partitions: 0 }, 'partitions'],
      [{ columns: { v: 'f64' }, partitionKey: 'v' }, 'partitionKey'],
      [{ columns: {}, enableWindowTracking: 'yes' }, 'enableWindowTracking'],
      [{ columns: {}, enableFalseSharingProtection: 1 }, 'enableFalseSharingProtection'],
      [{ columns: {}, keyCapacity: 0 }, 'keyCapacity'],
      [{ columns: {}, keyBytes: -1 }, 'keyBytes'],
      [{ columns: {}, abortTimeoutMs: 0 }, 'abortTimeoutMs'],
      [{ columns: {}, nope: true }, 'nope'],
    ];
    for (const [options, name] of cases) {
      assert.throws(
        () => ColumnarEventStore.create(options as never),
        isInvalidArg(name),
        `${JSON.stringify(options)} should name ${name}`,
      );
    }
    assert.throws(() => ColumnarEventStore.create({ columns: {}, capacity: -5 }), /received -5/);
  });

  it('splits capacity exactly over the partitions', () => {
    const s = ColumnarEventStore.create({ columns: {}, capacity: 10, partitions: 3 });
    assert.equal(s.capacity, 10);
    assert.deepEqual(s.handle.capacities, [4, 3, 3]);
  });

  it('survives structured cloning: a store attached to a cloned handle sees the same rows and keys', () => {
    const a = makeStore({ enableFalseSharingProtection: true });
    const b = ColumnarEventStore.attach(structuredClone(a.handle));
    a.tryAppendBatch(randomRows(10, 12));
    assert.equal(b.count(), 12);
    b.tryAppend({ timestamp: 1, value: 1, label: 'new-key', n: 0, u: 0, f: 0 });
    assert.equal(a.count({ where: { label: 'new-key' } }), 1);
    assert.deepEqual(b.snapshot(), a.snapshot());
    assert.throws(() => ColumnarEventStore.attach({} as never), isInvalidArg('handle'));
  });
});
