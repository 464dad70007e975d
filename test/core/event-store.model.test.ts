// Model-based test of EventStore<T>: random sequences of appends (single, batch, explicit partition),
// clears, purges and every query kind run against the store and against a deliberately plain model
// (one array per partition, Array.filter/reduce); every answer and every callback must be identical.
// LFES_MODEL_RUNS sets the run count (default 1000 per property); a failure prints the seed and
// paths to replay it with LFES_MODEL_SEED, LFES_MODEL_PATH and LFES_MODEL_REPLAY_PATH.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ErrorCode,
  type ErrorCodeValue,
  EventStore,
  EventStoreBuilder,
  EventStoreError,
  type EventStoreOptions,
  partitionForKey,
  type QueryOptions,
  type TimeInput,
  type WindowResult,
} from '../../src/index.ts';

// ---------------------------------------------------------------------------------------------------
// Events, selectors, filters (module-level functions so that identity checks see the same reference)

interface Ev {
  readonly id: number;
  readonly ts: number;
  /** Integer, so sums (and the window buckets' sums) are exact and floats compare exactly. */
  readonly value: number;
  readonly key: string | number;
  readonly group: string;
}

/** The `window.value` of windowed stores; queries that pass this very function may use the buckets. */
const windowValue = (e: Ev): number => e.value;

const SELECTORS = {
  value: windowValue,
  // Same numbers as `windowValue`, a different function: must be scanned, never answered from buckets.
  valueCopy: (e: Ev): number => e.value,
  affine: (e: Ev): number => 1 - 3 * e.value,
  idMod: (e: Ev): number => (e.id % 7) - 3,
} as const;
type SelectorName = keyof typeof SELECTORS;

const FILTERS = {
  none: undefined,
  evenValue: (e: Ev): boolean => e.value % 2 === 0,
  idNotMod3: (e: Ev): boolean => e.id % 3 !== 0,
  groupX: (e: Ev): boolean => e.group === 'x',
  all: (): boolean => true,
  nothing: (): boolean => false,
} as const;
type FilterName = keyof typeof FILTERS;

const GROUP_KEYS = {
  group: (e: Ev): string => e.group,
  valueMod3: (e: Ev): number => Math.abs(e.value) % 3,
  evenId: (e: Ev): boolean => e.id % 2 === 0,
} as const;
type GroupKeyName = keyof typeof GROUP_KEYS;

const QUERY_KINDS = [
  'count',
  'sum',
  'average',
  'min',
  'max',
  'window',
  'aggregate',
  'groupBy',
  'query',
] as const;
type QueryKind = (typeof QUERY_KINDS)[number];

// ---------------------------------------------------------------------------------------------------
// Store configurations

type SelectorKind = 'number' | 'date' | 'object' | 'none';

interface StoreConfig {
  partitions: number;
  /** Slots per partition, or a total split exactly (remainder to the first partitions). */
  capacity: { perPartition: number } | { total: number };
  overflow: 'overwrite' | 'reject' | undefined;
  keyed: boolean;
  selector: SelectorKind;
  enableWindowTracking: boolean | undefined;
  window: { sizeMs: number; bucketCount: number | undefined } | undefined;
  /** Origin of event times: 0 (times around zero, negative ones too) or a realistic epoch. */
  baseMs: number;
  useBuilder: boolean;
  falseSharing: boolean | undefined;
}

function describeConfig(c: StoreConfig): string {
  return JSON.stringify(c);
}

function configArb(focusWindow: boolean): fc.Arbitrary<StoreConfig> {
  return fc
    .record({
      partitions: fc.integer({ min: 1, max: 4 }),
      perPartition: fc.integer({ min: 1, max: 12 }),
      totalExtra: fc.integer({ min: 0, max: 44 }),
      useTotal: fc.boolean(),
      overflow: fc.constantFrom<StoreConfig['overflow']>('overwrite', 'reject', undefined),
      keyed: fc.boolean(),
      selector: focusWindow
        ? fc.constantFrom<SelectorKind>('number', 'date', 'object')
        : fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom<SelectorKind>('number', 'date', 'object') },
            { weight: 1, arbitrary: fc.constant<SelectorKind>('none') },
          ),
      enableWindowTracking: focusWindow
        ? fc.constantFrom<boolean | undefined>(true, undefined)
        : fc.oneof(
            { weight: 5, arbitrary: fc.constantFrom<boolean | undefined>(true, undefined) },
            { weight: 1, arbitrary: fc.constant(false) },
          ),
      window: fc.option(
        fc.record({
          sizeMs: fc.integer({ min: 1, max: 40 }),
          bucketCount: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined, freq: 8 }),
        }),
        { nil: undefined, freq: focusWindow ? 100 : 2 },
      ),
      baseMs: fc.constantFrom(0, 1_700_000_000_000),
      useBuilder: fc.boolean(),
      falseSharing: fc.constantFrom<boolean | undefined>(undefined, false, true),
    })
    .map((r): StoreConfig => {
      // `window` needs a timestamp selector and tracking on; drop it otherwise.
      const windowAllowed = r.selector !== 'none' && r.enableWindowTracking !== false;
      let window = windowAllowed ? r.window : undefined;
      if (focusWindow && window === undefined) window = { sizeMs: 12, bucketCount: 4 };
      return {
        partitions: r.partitions,
        capacity: r.useTotal
          ? { total: r.partitions + (r.totalExtra % (r.partitions * 12)) }
          : { perPartition: r.perPartition },
        overflow: r.overflow,
        keyed: r.keyed,
        selector: r.selector,
        enableWindowTracking: r.enableWindowTracking,
        window,
        baseMs: r.baseMs,
        useBuilder: r.useBuilder,
        falseSharing: r.falseSharing,
      };
    });
}

/** Partition capacities, computed the plain way: spread the total one slot at a time. */
function modelCapacities(c: StoreConfig): number[] {
  if ('perPartition' in c.capacity) return new Array<number>(c.partitions).fill(c.capacity.perPartition);
  const caps = new Array<number>(c.partitions).fill(0);
  for (let i = 0; i < c.capacity.total; i++) caps[i % c.partitions]! += 1;
  return caps;
}

function timestampSelectorOf(kind: SelectorKind): EventStoreOptions<Ev>['timestampSelector'] {
  switch (kind) {
    case 'number':
      return (e) => e.ts;
    case 'date':
      return (e) => new Date(e.ts);
    case 'object':
      return { getTimestamp: (e) => e.ts };
    case 'none':
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// The reference model: plain arrays, nothing clever

class Model {
  readonly config: StoreConfig;
  readonly caps: number[];
  readonly capacity: number;
  readonly parts: Ev[][];
  readonly reject: boolean;
  /** Latest event time handed out; out-of-order events land below it. */
  clock: number;
  nextId = 0;
  roundRobin = 0;
  capacityArmed = true;
  capacityCalls = 0;
  readonly discarded: Ev[] = [];
  totalAppended = 0;
  totalDiscarded = 0;
  totalRejected = 0;

  constructor(config: StoreConfig) {
    this.config = config;
    this.caps = modelCapacities(config);
    this.capacity = this.caps.reduce((a, b) => a + b, 0);
    this.parts = this.caps.map(() => []);
    this.reject = config.overflow === 'reject';
    this.clock = config.baseMs;
  }

  get hasTime(): boolean {
    return this.config.selector !== 'none';
  }

  get tracking(): boolean {
    return this.config.enableWindowTracking !== false;
  }

  newEvent(spec: EventSpec): Ev {
    const ts = this.clock + spec.delta;
    if (spec.delta > 0) this.clock = ts;
    return { id: this.nextId++, ts, value: spec.value, key: spec.key, group: spec.group };
  }

  route(e: Ev): number {
    if (this.config.keyed) return partitionForKey(e.key, this.config.partitions);
    const p = this.roundRobin;
    this.roundRobin = (this.roundRobin + 1) % this.config.partitions;
    return p;
  }

  append(e: Ev, p: number): boolean {
    const part = this.parts[p]!;
    if (part.length === this.caps[p]) {
      this.reachCapacity();
      if (this.reject) {
        this.totalRejected++;
        return false;
      }
      this.discarded.push(part.shift()!);
      this.totalDiscarded++;
    }
    part.push(e);
    this.totalAppended++;
    return true;
  }

  reachCapacity(): void {
    if (!this.capacityArmed) return;
    this.capacityArmed = false;
    this.capacityCalls++;
  }

  all(): Ev[] {
    return this.parts.flat();
  }
}

/** The store under test plus what its callbacks received. */
class Real {
  readonly store: EventStore<Ev>;
  readonly discarded: Ev[] = [];
  capacityCalls = 0;

  constructor(config: StoreConfig) {
    const options: EventStoreOptions<Ev> = {
      partitions: config.partitions,
      onEventDiscarded: (e) => {
        this.discarded.push(e);
      },
      onCapacityReached: () => {
        this.capacityCalls++;
      },
    };
    if ('perPartition' in config.capacity) options.capacityPerPartition = config.capacity.perPartition;
    else options.capacity = config.capacity.total;
    if (config.overflow !== undefined) options.overflow = config.overflow;
    if (config.keyed) options.partitionKey = (e) => e.key;
    const selector = timestampSelectorOf(config.selector);
    if (selector !== undefined) options.timestampSelector = selector;
    if (config.enableWindowTracking !== undefined) options.enableWindowTracking = config.enableWindowTracking;
    if (config.window !== undefined) {
      const { sizeMs, bucketCount } = config.window;
      options.window =
        bucketCount === undefined
          ? { sizeMs, value: windowValue }
          : { sizeMs, bucketCount, value: windowValue };
    }
    if (config.falseSharing !== undefined) options.enableFalseSharingProtection = config.falseSharing;
    this.store = config.useBuilder ? buildStore(options) : new EventStore<Ev>(options);
  }
}

/** The same options, through the fluent builder. */
function buildStore(o: EventStoreOptions<Ev>): EventStore<Ev> {
  const b = new EventStoreBuilder<Ev>();
  if (o.partitions !== undefined) b.withPartitions(o.partitions);
  if (o.onEventDiscarded !== undefined) b.onDiscarded(o.onEventDiscarded);
  if (o.onCapacityReached !== undefined) b.onCapacityReached(o.onCapacityReached);
  if (o.capacity !== undefined) b.withCapacity(o.capacity);
  if (o.capacityPerPartition !== undefined) b.withCapacityPerPartition(o.capacityPerPartition);
  if (o.overflow !== undefined) b.withOverflow(o.overflow);
  if (o.partitionKey !== undefined) b.withPartitionKey(o.partitionKey);
  if (o.timestampSelector !== undefined) b.withTimestampSelector(o.timestampSelector);
  if (o.enableWindowTracking !== undefined) b.withEnableWindowTracking(o.enableWindowTracking);
  if (o.window !== undefined) b.withWindow(o.window);
  if (o.enableFalseSharingProtection !== undefined) {
    b.withFalseSharingProtection(o.enableFalseSharingProtection);
  }
  return b.create();
}

// ---------------------------------------------------------------------------------------------------
// Command inputs (plain data, so counterexamples print readably)

interface EventSpec {
  /** Offset from the model clock: mostly small steps forward, sometimes late (negative) or a jump. */
  delta: number;
  value: number;
  key: string | number;
  group: string;
}

/** `route`: no partition argument; `explicit`: index (taken modulo the partition count); `bad`: invalid. */
type Target = { kind: 'route' } | { kind: 'explicit'; index: number } | { kind: 'bad'; which: number };

interface TimeSpec {
  offset: number;
  asDate: boolean;
}

interface QuerySpec {
  from: TimeSpec | undefined;
  to: TimeSpec | undefined;
  filter: FilterName;
  target: Target;
  /** Pass `undefined` instead of `{}` when the spec has no option at all. */
  omitWhenEmpty: boolean;
}

const eventSpecArb: fc.Arbitrary<EventSpec> = fc.record({
  delta: fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: 4 }) },
    { weight: 3, arbitrary: fc.integer({ min: -30, max: -1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 20, max: 90 }) },
  ),
  value: fc.integer({ min: -50, max: 50 }),
  key: fc.oneof(
    fc.constantFrom('a', 'b', 'gw-1', 'gw-2', 'orders', ''),
    fc.integer({ min: -5, max: 5 }),
    fc.constantFrom(0.5, 1e9, -2.25),
  ),
  group: fc.constantFrom('x', 'y', 'z'),
});

function targetArb(routeWeight: number): fc.Arbitrary<Target> {
  return fc.oneof(
    { weight: routeWeight, arbitrary: fc.constant<Target>({ kind: 'route' }) },
    {
      weight: 2,
      arbitrary: fc.integer({ min: 0, max: 3 }).map((index): Target => ({ kind: 'explicit', index })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: 3 }).map((which): Target => ({ kind: 'bad', which })),
    },
  );
}

const timeSpecArb: fc.Arbitrary<TimeSpec> = fc.record({
  offset: fc.integer({ min: -45, max: 8 }),
  asDate: fc.boolean(),
});

function querySpecArb(focusWindow: boolean): fc.Arbitrary<QuerySpec> {
  return fc.record({
    from: fc.option(timeSpecArb, { nil: undefined, freq: 2 }),
    to: fc.option(timeSpecArb, { nil: undefined, freq: 2 }),
    filter: focusWindow
      ? fc.oneof(
          { weight: 6, arbitrary: fc.constant<FilterName>('none') },
          { weight: 1, arbitrary: fc.constantFrom<FilterName>(...keysOf(FILTERS)) },
        )
      : fc.constantFrom<FilterName>(...keysOf(FILTERS)),
    target: focusWindow
      ? fc.oneof(
          { weight: 6, arbitrary: fc.constant<Target>({ kind: 'route' }) },
          {
            weight: 1,
            arbitrary: fc.integer({ min: 0, max: 3 }).map((index): Target => ({ kind: 'explicit', index })),
          },
        )
      : targetArb(4),
    omitWhenEmpty: fc.boolean(),
  });
}

function keysOf<O extends object>(o: O): (keyof O)[] {
  return Object.keys(o) as (keyof O)[];
}

/** The partition argument a target stands for, for a store of `partitions` partitions. */
function partitionArg(target: Target, partitions: number): number | undefined {
  switch (target.kind) {
    case 'route':
      return undefined;
    case 'explicit':
      return target.index % partitions;
    case 'bad':
      return [partitions, -1, 0.5, partitions + 3][target.which % 4];
  }
}

function toTime(ms: number, asDate: boolean): TimeInput {
  return asDate ? new Date(ms) : ms;
}

function showTarget(t: Target): string {
  return t.kind === 'route' ? 'route' : t.kind === 'explicit' ? `p${t.index}` : `bad${t.which}`;
}

function showTime(t: TimeSpec | undefined): string {
  return t === undefined ? '-' : `${t.offset}${t.asDate ? 'D' : ''}`;
}

function showEvent(e: EventSpec): string {
  return `(${e.delta},${e.value},${JSON.stringify(e.key)},${e.group})`;
}

// ---------------------------------------------------------------------------------------------------
// Assertions shared by the commands

function assertThrowsCode(fn: () => unknown, codes: readonly ErrorCodeValue[], what: string): void {
  assert.throws(
    fn,
    (err: unknown) => {
      assert.ok(err instanceof EventStoreError, `${what}: expected an EventStoreError, got ${String(err)}`);
      assert.ok(codes.includes(err.code), `${what}: expected code ${codes.join(' or ')}, got ${err.code}`);
      return true;
    },
    `${what}: expected ${codes.join(' or ')}`,
  );
}

const ids = (events: readonly Ev[]): number[] => events.map((e) => e.id);

/** Everything observable without arguments: contents, order, sizes, counters and callbacks. */
function assertSameState(m: Model, r: Real): void {
  const s = r.store;
  const expected = ids(m.all());
  assert.deepEqual(ids(s.snapshot()), expected, 'snapshot()');
  assert.deepEqual(ids([...s]), expected, '[...store]');
  assert.equal(s.size, expected.length, 'size');
  assert.equal(s.count(), expected.length, 'count()');
  assert.equal(s.isEmpty, expected.length === 0, 'isEmpty');
  assert.equal(s.isFull, expected.length === m.capacity, 'isFull');
  assert.equal(s.capacity, m.capacity, 'capacity');
  assert.equal(s.partitions, m.config.partitions, 'partitions');
  for (let p = 0; p < m.parts.length; p++) {
    assert.deepEqual(ids(s.query({ partition: p })), ids(m.parts[p]!), `query({ partition: ${p} })`);
  }
  assert.equal(s.statistics.totalAppended, m.totalAppended, 'statistics.totalAppended');
  assert.equal(s.statistics.totalDiscarded, m.totalDiscarded, 'statistics.totalDiscarded');
  assert.equal(s.statistics.totalRejected, m.totalRejected, 'statistics.totalRejected');
  assert.equal(s.statistics.lastAppendTime === undefined, m.totalAppended === 0, 'statistics.lastAppendTime');
  assert.deepEqual(ids(r.discarded), ids(m.discarded), 'events passed to onEventDiscarded');
  assert.equal(r.capacityCalls, m.capacityCalls, 'onCapacityReached calls');
}

// ---------------------------------------------------------------------------------------------------
// Commands

type StoreCommand = fc.Command<Model, Real>;

class AppendCommand implements StoreCommand {
  constructor(
    readonly event: EventSpec,
    readonly target: Target,
  ) {}

  check(): boolean {
    return true;
  }

  run(m: Model, r: Real): void {
    const e = m.newEvent(this.event);
    const p = partitionArg(this.target, m.config.partitions);
    if (this.target.kind === 'bad') {
      assertThrowsCode(() => r.store.tryAppend(e, p), [ErrorCode.INVALID_ARG], 'tryAppend(bad partition)');
    } else {
      const expected = m.append(e, p ?? m.route(e));
      assert.equal(r.store.tryAppend(e, p), expected, 'tryAppend result');
    }
    assertSameState(m, r);
  }

  toString(): string {
    return `append${showEvent(this.event)}@${showTarget(this.target)}`;
  }
}

class AppendBatchCommand implements StoreCommand {
  constructor(
    readonly events: readonly EventSpec[],
    readonly target: Target,
  ) {}

  check(): boolean {
    return true;
  }

  run(m: Model, r: Real): void {
    const events = this.events.map((spec) => m.newEvent(spec));
    const p = partitionArg(this.target, m.config.partitions);
    if (this.target.kind === 'bad') {
      assertThrowsCode(
        () => r.store.tryAppendBatch(events, p),
        [ErrorCode.INVALID_ARG],
        'tryAppendBatch(bad partition)',
      );
    } else {
      // A batch is the events appended one by one, stopping at the first that does not fit.
      let expected = 0;
      for (const e of events) {
        if (!m.append(e, p ?? m.route(e))) break;
        expected++;
      }
      assert.equal(r.store.tryAppendBatch(events, p), expected, 'tryAppendBatch result');
    }
    assertSameState(m, r);
  }

  toString(): string {
    return `batch[${this.events.map(showEvent).join(' ')}]@${showTarget(this.target)}`;
  }
}

class ClearCommand implements StoreCommand {
  constructor(readonly viaReset: boolean) {}

  check(): boolean {
    return true;
  }

  run(m: Model, r: Real): void {
    for (const part of m.parts) part.length = 0;
    m.capacityArmed = true;
    if (this.viaReset) r.store.reset();
    else r.store.clear();
    assertSameState(m, r);
  }

  toString(): string {
    return this.viaReset ? 'reset()' : 'clear()';
  }
}

class PurgeCommand implements StoreCommand {
  constructor(readonly olderThan: TimeSpec) {}

  check(): boolean {
    return true;
  }

  run(m: Model, r: Real): void {
    const cutoff = m.clock + this.olderThan.offset;
    const olderThan = toTime(cutoff, this.olderThan.asDate);
    if (!m.hasTime) {
      assertThrowsCode(
        () => r.store.purge({ olderThan }),
        [ErrorCode.TIMESTAMP_SELECTOR_REQUIRED],
        'purge without a timestampSelector',
      );
    } else {
      let removed = 0;
      for (const part of m.parts) {
        const kept = part.filter((e) => e.ts >= cutoff);
        removed += part.length - kept.length;
        part.splice(0, part.length, ...kept);
      }
      assert.equal(r.store.purge({ olderThan }), removed, 'purge result');
    }
    assertSameState(m, r);
  }

  toString(): string {
    return `purge(${showTime(this.olderThan)})`;
  }
}

class QueryCommand implements StoreCommand {
  constructor(
    readonly spec: QuerySpec,
    readonly kinds: readonly QueryKind[],
    readonly selector: SelectorName,
    readonly groupKey: GroupKeyName,
  ) {}

  check(): boolean {
    return true;
  }

  run(m: Model, r: Real): void {
    const { spec } = this;
    const partition = partitionArg(spec.target, m.config.partitions);
    const filter = FILTERS[spec.filter];
    const q: QueryOptions<Ev> = {};
    if (spec.from !== undefined) q.from = toTime(m.clock + spec.from.offset, spec.from.asDate);
    if (spec.to !== undefined) q.to = toTime(m.clock + spec.to.offset, spec.to.asDate);
    if (filter !== undefined) q.filter = filter;
    if (partition !== undefined) q.partition = partition;
    const options = spec.omitWhenEmpty && Object.keys(q).length === 0 ? undefined : q;

    // Which errors the query must raise (any one of them: the contract does not order the checks).
    const codes: ErrorCodeValue[] = [];
    const timed = spec.from !== undefined || spec.to !== undefined;
    if (timed && !m.tracking) codes.push(ErrorCode.WINDOW_TRACKING_DISABLED);
    else if (timed && !m.hasTime) codes.push(ErrorCode.TIMESTAMP_SELECTOR_REQUIRED);
    if (spec.target.kind === 'bad') codes.push(ErrorCode.INVALID_ARG);

    const selector = SELECTORS[this.selector];
    const keyOf: (e: Ev) => unknown = GROUP_KEYS[this.groupKey];
    const s = r.store;
    const calls: Record<QueryKind, () => unknown> = {
      count: () => s.count(options),
      sum: () => s.sum(selector, options),
      average: () => s.average(selector, options),
      min: () => s.min(selector, options),
      max: () => s.max(selector, options),
      window: () => s.window(selector, options),
      aggregate: () => {
        let seeds = 0;
        const visited = s.aggregate(
          () => {
            seeds++;
            return [] as number[];
          },
          (acc, e) => {
            acc.push(e.id);
            return acc;
          },
          options,
        );
        return { seeds, visited };
      },
      groupBy: () => s.groupBy(keyOf, selector, options),
      query: () => ids(s.query(options)),
    };

    if (codes.length > 0) {
      for (const kind of this.kinds) assertThrowsCode(calls[kind], codes, `${kind}(${this.describe()})`);
      assertSameState(m, r);
      return;
    }

    const from = q.from === undefined ? Number.NEGATIVE_INFINITY : Number(q.from);
    const to = q.to === undefined ? Number.POSITIVE_INFINITY : Number(q.to);
    const source = partition === undefined ? m.all() : m.parts[partition]!;
    const matching = source.filter((e) => e.ts >= from && e.ts <= to && (filter === undefined || filter(e)));
    const values = matching.map(selector);
    const total = values.reduce((a, v) => a + v, 0);
    const n = values.length;
    const windowResult: WindowResult = {
      count: n,
      sum: total,
      min: n === 0 ? undefined : values.reduce((a, v) => Math.min(a, v)),
      max: n === 0 ? undefined : values.reduce((a, v) => Math.max(a, v)),
      average: n === 0 ? undefined : total / n,
    };
    const groups = new Map<
      unknown,
      { count: number; sum: number; min: number; max: number; average: number }
    >();
    for (const key of new Set(matching.map(keyOf))) {
      const vs = matching.filter((e) => keyOf(e) === key).map(selector);
      const sum = vs.reduce((a, v) => a + v, 0);
      groups.set(key, {
        count: vs.length,
        sum,
        min: Math.min(...vs),
        max: Math.max(...vs),
        average: sum / vs.length,
      });
    }
    const expected: Record<QueryKind, unknown> = {
      count: n,
      sum: total,
      average: windowResult.average,
      min: windowResult.min,
      max: windowResult.max,
      window: windowResult,
      aggregate: { seeds: 1, visited: ids(matching) },
      groupBy: groups,
      query: ids(matching),
    };
    for (const kind of this.kinds) {
      assert.deepEqual(calls[kind](), expected[kind], `${kind}(${this.describe()})`);
    }
    assertSameState(m, r);
  }

  describe(): string {
    const { spec } = this;
    return (
      `from=${showTime(spec.from)} to=${showTime(spec.to)} filter=${spec.filter} ` +
      `at=${showTarget(spec.target)} sel=${this.selector} key=${this.groupKey}` +
      (spec.omitWhenEmpty ? ' omit' : '')
    );
  }

  toString(): string {
    return `query[${this.kinds.join(',')}](${this.describe()})`;
  }
}

function commandArb(focusWindow: boolean): fc.Arbitrary<StoreCommand> {
  const append = fc
    .tuple(eventSpecArb, targetArb(6))
    .map(([event, target]): StoreCommand => new AppendCommand(event, target));
  const batch = fc
    .tuple(fc.array(eventSpecArb, { maxLength: 8 }), targetArb(5))
    .map(([events, target]): StoreCommand => new AppendBatchCommand(events, target));
  const clear = fc.boolean().map((viaReset): StoreCommand => new ClearCommand(viaReset));
  const purge = timeSpecArb.map((t): StoreCommand => new PurgeCommand(t));
  const query = fc
    .tuple(
      querySpecArb(focusWindow),
      fc.shuffledSubarray([...QUERY_KINDS], { minLength: 1 }),
      focusWindow
        ? fc.oneof(
            { weight: 5, arbitrary: fc.constant<SelectorName>('value') },
            { weight: 1, arbitrary: fc.constantFrom<SelectorName>(...keysOf(SELECTORS)) },
          )
        : fc.constantFrom<SelectorName>(...keysOf(SELECTORS)),
      fc.constantFrom<GroupKeyName>(...keysOf(GROUP_KEYS)),
    )
    .map(
      ([spec, kinds, selector, groupKey]): StoreCommand => new QueryCommand(spec, kinds, selector, groupKey),
    );
  return fc.oneof(
    { weight: 8, arbitrary: append },
    { weight: 4, arbitrary: batch },
    { weight: 1, arbitrary: clear },
    { weight: 2, arbitrary: purge },
    { weight: 8, arbitrary: query },
  );
}

// ---------------------------------------------------------------------------------------------------
// Running the properties

function envInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, received ${JSON.stringify(raw)}`);
  return n;
}

const NUM_RUNS = envInteger('LFES_MODEL_RUNS') ?? 1000;
const SEED = envInteger('LFES_MODEL_SEED');
/** `<property>:<path>`, as printed on failure; the path only applies to the property it names. */
const PATH = process.env.LFES_MODEL_PATH ?? '';
/** The commands' replay path, as printed on failure (shrunk command sequences depend on it). */
const REPLAY_PATH = process.env.LFES_MODEL_REPLAY_PATH ?? '';
const MAX_COMMANDS = 100;
const TEST_FILE = 'test/core/event-store.model.test.ts';

function runModel(name: 'general' | 'window'): void {
  const focusWindow = name === 'window';
  const replaying = SEED !== undefined && PATH.startsWith(`${name}:`);
  const constraints: fc.CommandsContraints = { maxCommands: MAX_COMMANDS, size: 'max' };
  if (replaying && REPLAY_PATH !== '') constraints.replayPath = REPLAY_PATH;
  const property = fc.property(
    configArb(focusWindow),
    fc.commands([commandArb(focusWindow)], constraints),
    (config, commands) => {
      try {
        fc.modelRun(() => ({ model: new Model(config), real: new Real(config) }), commands);
      } catch (err) {
        if (err instanceof Error) err.message = `${err.message}\nstore config: ${describeConfig(config)}`;
        throw err;
      }
    },
  );
  const params: fc.Parameters<[StoreConfig, Iterable<StoreCommand>]> = { numRuns: NUM_RUNS };
  if (SEED !== undefined) params.seed = SEED;
  if (replaying) params.path = PATH.slice(name.length + 1);
  const details = fc.check(property, params);
  if (details.failed) {
    const commands = details.counterexample === null ? '' : String(details.counterexample[1]);
    const replayPath = /replayPath="([^"]*)"/.exec(commands)?.[1] ?? '';
    const replay =
      `replay: LFES_MODEL_SEED=${details.seed} LFES_MODEL_PATH='${name}:${details.counterexamplePath ?? ''}' ` +
      `LFES_MODEL_REPLAY_PATH='${replayPath}' node scripts/run-tests.mjs ${TEST_FILE}`;
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : '';
    assert.fail(`${cause}\n${replay}\n${fc.defaultReportMessage(details) ?? ''}`);
  }
}

describe('EventStore against a plain array model', () => {
  it('answers every query, snapshot, iteration, size and statistic exactly like the model for any mix of appends, batches, clears and purges', () => {
    runModel('general');
  });

  it('gives the exact answers of the model from window buckets, with out-of-order times, evictions and purges', () => {
    runModel('window');
  });

  it('resumes round-robin after a batch stopped by reject exactly as one-by-one appends would', () => {
    // Regression: the routing turns of the events after the refused one used to be consumed too.
    const store = new EventStore<string>({ partitions: 2, capacityPerPartition: 1, overflow: 'reject' });
    assert.equal(store.tryAppend('a', 0), true);
    assert.equal(store.tryAppendBatch(['b', 'c']), 0); // 'b' is routed to the full partition 0
    assert.equal(store.tryAppend('d'), true); // partition 1's turn, as after tryAppend('b') === false
    assert.deepEqual(store.snapshot(), ['a', 'd']);
    assert.equal(store.statistics.totalRejected, 1);
  });
});
