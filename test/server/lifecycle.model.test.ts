// Model-based lifecycle test of the real server process. Random sequences of appends (single events,
// JSON-array batches of 1-50 and of 1,001 events, NDJSON, Expected-Version, small `?capacity=`, idempotent
// producers with retries, epoch bumps, stale epochs, gaps and conflicts), deletes and re-creations,
// reads, and restarts (SIGTERM, kill -9, kill -9 right after a periodic snapshot, two restarts in a row,
// kill -9 during an append) run against `node dist/cli/main.js serve` on a fresh data directory and
// against a plain model (test/helpers/lifecycle-model.ts). Every answer must be the model's; after every
// restart and at the end the server must hold exactly the model's state: every stream with its offsets,
// capacity and tombstone, every acknowledged event at its offset with its data and receive time, nothing
// else, and every producer's state.
// LFES_LIFECYCLE_RUNS sets the number of sequences (default 200); a failure prints the seed and paths to
// replay it with LFES_LIFECYCLE_SEED, LFES_LIFECYCLE_PATH and LFES_LIFECYCLE_REPLAY_PATH (shrinking stops
// 10 minutes after the first failure). LFES_LIFECYCLE_CLI runs another build's dist/cli/main.js.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { StreamInfo } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/errors.ts';
import { envInteger } from '../helpers/env.ts';
import {
  type AppendAnswer,
  type AppendRequest,
  LifecycleModel,
  type ModelEvent,
  type ProducerHeaders,
} from '../helpers/lifecycle-model.ts';
import { assertBuildIsCurrent, RestartableServer, type StopSignal } from '../helpers/restartable-server.ts';
import { problem } from '../helpers/server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

// ---------------------------------------------------------------------------------------------------
// Server configurations

interface LifecycleConfig {
  fsync: 'always' | 'everysec' | 'no';
  /** `--snapshot-interval-ms`; undefined: the default (60 s, so no periodic snapshot within a sequence). */
  snapshotIntervalMs: number | undefined;
  /** `--stream-capacity`; undefined: the default. */
  streamCapacity: number | undefined;
}

const DEFAULT_STREAM_CAPACITY = 100_000;
/** Periodic snapshots of the sequences that have them: several per sequence. */
const SHORT_SNAPSHOT_INTERVAL_MS = 200;

function serveArgs(c: LifecycleConfig): string[] {
  const args = ['--fsync', c.fsync, '--log-level', 'info'];
  if (c.snapshotIntervalMs !== undefined) args.push('--snapshot-interval-ms', String(c.snapshotIntervalMs));
  if (c.streamCapacity !== undefined) args.push('--stream-capacity', String(c.streamCapacity));
  return args;
}

const configArb: fc.Arbitrary<LifecycleConfig> = fc.record({
  fsync: fc.oneof(
    { weight: 2, arbitrary: fc.constant('always' as const) },
    { weight: 2, arbitrary: fc.constant('everysec' as const) },
    { weight: 1, arbitrary: fc.constant('no' as const) },
  ),
  snapshotIntervalMs: fc.constantFrom(SHORT_SNAPSHOT_INTERVAL_MS, undefined),
  streamCapacity: fc.constantFrom(undefined, 2_000, 40),
});

/** The fast-check model: the service's state and the configuration of the sequence's server. */
class SequenceModel extends LifecycleModel {
  readonly config: LifecycleConfig;

  constructor(config: LifecycleConfig) {
    super(config.streamCapacity ?? DEFAULT_STREAM_CAPACITY);
    this.config = config;
  }
}

/** Stream names: `orders` and `t/1` share a shard, so do `gw/eu-1` and `s`. */
const STREAM_NAMES = ['orders', 't/1', 'gw/eu-1', 's', 'a.b~c'] as const;
const PRODUCER_IDS = ['p0', 'p1'] as const;

// ---------------------------------------------------------------------------------------------------
// Totals over every sequence of the run (printed at the end)

function newTotals() {
  return {
    sequences: 0,
    commands: 0,
    serverStarts: 0,
    restarts: {
      SIGTERM: 0,
      'kill -9': 0,
      'kill -9 after a periodic snapshot': 0,
      'kill -9 during an append': 0,
    },
    acknowledgedRequests: 0,
    acknowledgedEvents: 0,
    duplicatesAcknowledged: 0,
    refusals: 0,
    /** Events compared with the model in the full checks after restarts. */
    eventsCheckedAfterRestarts: 0,
    /** Acknowledged events missing or changed in a check (the test fails on the first one). */
    lost: 0,
    inFlight: { answered: 0, stored: 0, notStored: 0 },
  };
}
let totals = newTotals();

// ---------------------------------------------------------------------------------------------------
// HTTP: one connection per request (a restarted server may get the port of a killed one back)

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

const REQUEST_TIMEOUT_MS = 30_000;

function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const method = init.method ?? 'GET';
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      err.message = `${method} ${url}: ${err.message}`;
      reject(err);
    };
    const req = httpRequest(
      url,
      {
        method,
        headers: init.headers ?? {},
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // NDJSON or empty
          }
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          }
          resolve({ status: res.statusCode ?? 0, headers, text, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', fail);
    req.end(init.body);
  });
}

/** Runs `fn`, prefixing the message of anything it throws with `what`. */
async function within<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message = `${what}: ${err.message}`;
    throw err;
  }
}

function appendPath(req: AppendRequest): string {
  return `/streams/${req.stream}${req.capacity === undefined ? '' : `?capacity=${req.capacity}`}`;
}

function appendHeaders(req: AppendRequest): Record<string, string> {
  const h: Record<string, string> = { 'content-type': req.contentType };
  if (req.expectedVersion !== undefined) h['expected-version'] = String(req.expectedVersion);
  if (req.producer !== undefined) {
    h['producer-id'] = req.producer.id;
    h['producer-epoch'] = String(req.producer.epoch);
    h['producer-seq'] = String(req.producer.seq);
  }
  return h;
}

function describeRequest(req: AppendRequest): string {
  const parts = [`${req.data.length} event(s) as ${req.contentType}`];
  if (req.capacity !== undefined) parts.push(`capacity=${req.capacity}`);
  if (req.expectedVersion !== undefined) parts.push(`Expected-Version ${req.expectedVersion}`);
  const p = req.producer;
  if (p !== undefined) parts.push(`producer ${p.id} epoch ${p.epoch} seq ${p.seq}`);
  return `POST ${appendPath(req)} (${parts.join(', ')})`;
}

interface StoredEvent {
  offset: number;
  timestamp: number;
  data: unknown;
}

// ---------------------------------------------------------------------------------------------------
// The real system: one server process at a time on the sequence's data directory

class Lifecycle {
  readonly server: RestartableServer;

  constructor(config: LifecycleConfig, dataDir: string) {
    this.server = new RestartableServer(dataDir, serveArgs(config));
  }

  get url(): string {
    return this.server.url;
  }

  /**
   * Starts a process and waits until it answers /health, as a load balancer's readiness check would:
   * a SIGTERM in the first moment after the listening line is the case of its own test below.
   */
  async start(): Promise<void> {
    await this.server.start();
    totals.serverStarts++;
    const health = await request(`${this.url}/health`);
    assert.equal(health.status, 200, health.text);
  }

  /** Stops the process with `signal` (SIGTERM must exit 0) and starts a new one on the same directory. */
  async restart(signal: StopSignal): Promise<void> {
    await this.stop(signal);
    await this.start();
  }

  async stop(signal: StopSignal): Promise<void> {
    const code = await this.server.stop(signal);
    if (signal === 'SIGTERM') assert.equal(code, 0, 'SIGTERM drains, writes a final snapshot and exits 0');
    else assert.equal(code, 'SIGKILL');
  }

  /** Checks an answer against the model's. */
  expectAnswer(r: Reply, expected: AppendAnswer, what: string): void {
    if ('ack' in expected) {
      assert.equal(r.status, expected.status, `${what}: ${r.text}`);
      assert.deepEqual(r.body, expected.ack, what);
      return;
    }
    problem(r, expected.status, expected.code);
    for (const [k, v] of Object.entries(expected.members)) assert.deepEqual(r.body[k], v, `${what}: ${k}`);
    if (expected.code === ErrorCode.WRONG_EXPECTED_VERSION) {
      assert.equal(r.headers.get('es-current-version'), String(expected.members.currentVersion));
    }
  }

  /** Sends an append, checks the answer against the model and records it there if acknowledged. */
  async append(m: LifecycleModel, req: AppendRequest): Promise<AppendAnswer> {
    const expected = m.answer(req);
    const what = describeRequest(req);
    const loMs = Date.now();
    const r = await request(`${this.url}${appendPath(req)}`, {
      method: 'POST',
      headers: appendHeaders(req),
      body: req.body,
    });
    const hiMs = Date.now();
    await within(what, () => this.expectAnswer(r, expected, what));
    if (expected.status === 201) {
      m.apply(req, { loMs, hiMs, seenMs: undefined });
      totals.acknowledgedRequests++;
      totals.acknowledgedEvents += req.data.length;
    } else if (expected.status === 200) totals.duplicatesAcknowledged++;
    else totals.refusals++;
    return expected;
  }

  async remove(m: LifecycleModel, name: string): Promise<void> {
    const r = await request(`${this.url}/streams/${name}`, { method: 'DELETE' });
    const next = m.delete(name);
    await within(`DELETE /streams/${name}`, () => {
      if (next === undefined) problem(r, 404, ErrorCode.STREAM_NOT_FOUND);
      else {
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body, { stream: name, deleted: true, nextOffset: next });
      }
    });
  }

  async snapshotsSaved(): Promise<number> {
    const r = await request(`${this.url}/stats`);
    assert.equal(r.status, 200, r.text);
    return (r.body.persistence as { snapshotsSaved: number }).snapshotsSaved;
  }

  /**
   * The whole state against the model: the stream list, full reads of every stream (events, offsets,
   * data, receive times), evicted offsets, tombstones and never-created names, every producer's state,
   * and /stats. Writes nothing unless `probeNextSeq` (then every producer appends its next sequence).
   */
  async verify(
    m: LifecycleModel,
    when: string,
    options: { afterGracefulRestart?: boolean; probeNextSeq?: boolean; countEvents?: boolean } = {},
  ): Promise<void> {
    await within(when, async () => {
      const list = await request(`${this.url}/streams`);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.body.streams as StreamInfo[], m.list(), 'GET /streams lists the model streams');
      for (const name of STREAM_NAMES) await this.#verifyStream(m, name, options.countEvents === true);
      for (const { stream, id, state } of m.producers()) {
        const last = state.recent.at(-1)!;
        const probe = (headers: ProducerHeaders, data: unknown = { probe: 'producer' }): AppendRequest => ({
          stream,
          data: [data],
          body: JSON.stringify(data),
          contentType: 'application/json',
          producer: headers,
        });
        const refusals: AppendRequest[] = [
          // The last sequence with another body: a conflict.
          probe({ id, epoch: state.epoch, seq: last.seq }, { probe: 'conflict', not: last.request.body }),
          probe({ id, epoch: state.epoch, seq: state.lastSeq + 2 }), // a gap
        ];
        if (state.epoch > 0) refusals.push(probe({ id, epoch: state.epoch - 1, seq: state.lastSeq + 1 }));
        const oldest = state.recent[0]!.seq;
        if (oldest > 0) refusals.push(probe({ id, epoch: state.epoch, seq: oldest - 1 })); // before the window
        // Every remembered append, retried with its own bytes: a duplicate with its original offsets.
        for (const ack of state.recent) {
          assert.equal((await this.append(m, ack.request)).status, 200, 'a retry is a duplicate');
        }
        for (const req of refusals) {
          assert.equal(m.answer(req).status, 409, 'the probe is one the service refuses');
          await this.append(m, req);
        }
        if (options.probeNextSeq === true) {
          const next = probe({ id, epoch: state.epoch, seq: state.lastSeq + 1 });
          assert.equal((await this.append(m, next)).status, 201, 'the next sequence is accepted');
        }
      }
      const stats = await request(`${this.url}/stats`);
      assert.equal(stats.status, 200, stats.text);
      const p = stats.body.persistence as Record<string, unknown>;
      assert.deepEqual(
        {
          streams: stats.body.streams,
          events: stats.body.events,
          snapshotFailures: p.snapshotFailures,
          journalFailures: p.journalFailures,
          ...(options.afterGracefulRestart === true
            ? { journalRecordsReplayed: p.journalRecordsReplayed }
            : {}),
        },
        {
          streams: m.streams.size,
          events: m.heldEvents(),
          snapshotFailures: 0,
          journalFailures: 0,
          // The final snapshot of a graceful stop covers everything.
          ...(options.afterGracefulRestart === true ? { journalRecordsReplayed: 0 } : {}),
        },
        'GET /stats',
      );
      const errors = this.server.log.split('\n').filter((l) => /"level":(50|60)/.test(l));
      assert.deepEqual(errors, [], 'the server logs no error');
    });
  }

  async #verifyStream(m: LifecycleModel, name: string, countEvents: boolean): Promise<void> {
    const s = m.streams.get(name);
    if (s === undefined) {
      problem(await request(`${this.url}/streams/${name}`), 404, ErrorCode.STREAM_NOT_FOUND);
    } else {
      const first = m.firstOffset(s);
      const events: StoredEvent[] = [];
      for (let from = first; from < s.next; ) {
        const r = await request(`${this.url}/streams/${name}?from=${from}&limit=10000`);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(
          [r.body.firstOffset, r.body.lastOffset],
          [first, s.next - 1],
          `${name}: firstOffset and lastOffset of a page`,
        );
        const page = r.body.events as StoredEvent[];
        if (page.length === 0) break;
        events.push(...page);
        from = r.body.nextOffset as number;
      }
      compareEvents(name, s.events, events);
      if (countEvents) totals.eventsCheckedAfterRestarts += s.events.length;
      if (first > 0) {
        const r = await request(`${this.url}/streams/${name}?from=${first - 1}`);
        problem(r, 410, ErrorCode.OFFSET_EVICTED);
        assert.equal(r.body.firstOffset, first);
      }
    }
    // A wrong Expected-Version names the stream's version (of the tombstone, or -1): nothing is written.
    const next = m.nextOffset(name);
    const wrong: AppendRequest = {
      stream: name,
      data: [{ probe: 'expected-version' }],
      body: JSON.stringify({ probe: 'expected-version' }),
      contentType: 'application/json',
      expectedVersion: next,
    };
    assert.equal(m.answer(wrong).status, 409);
    await this.append(m, wrong);
  }
}

/**
 * Asserts that `actual` (a read) holds exactly the model's events: each at its offset with its data and a
 * receive time within its request's bounds, the same for every event of one request and across restarts.
 */
function compareEvents(name: string, expected: readonly ModelEvent[], actual: readonly StoredEvent[]): void {
  const byOffset = new Map(actual.map((e) => [e.offset, e]));
  const lost: string[] = [];
  for (const e of expected) {
    const got = byOffset.get(e.offset);
    byOffset.delete(e.offset);
    if (got === undefined || !isDeepStrictEqual(got.data, e.data)) {
      lost.push(`offset ${e.offset}: expected ${JSON.stringify(e.data)}, read ${JSON.stringify(got?.data)}`);
      continue;
    }
    const t = e.time;
    if (t.seenMs === undefined) {
      assert.ok(
        got.timestamp >= t.loMs && got.timestamp <= t.hiMs,
        `${name} offset ${e.offset}: timestamp ${got.timestamp} outside the request's [${t.loMs}, ${t.hiMs}]`,
      );
      t.seenMs = got.timestamp;
    } else {
      assert.equal(got.timestamp, t.seenMs, `${name} offset ${e.offset}: the receive time changed`);
    }
  }
  totals.lost += lost.length;
  const phantom = [...byOffset.keys()];
  assert.ok(
    lost.length === 0 && phantom.length === 0,
    `${name}: ${lost.length} acknowledged event(s) lost or changed, ${phantom.length} never acknowledged ` +
      `(offsets ${phantom.slice(0, 10).join(', ')})\n${lost.slice(0, 10).join('\n')}`,
  );
  assert.deepEqual(
    actual.map((e) => e.offset),
    expected.map((e) => e.offset),
    `${name}: events in offset order`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Payloads: the events of an append and the exact body that carries them

/** JSON values as the service returns them (normalised through JSON: no -0, plain objects). */
const jsonLeaf = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 10 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const { json: jsonValue } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    jsonLeaf,
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('json'), { maxKeys: 3 }),
  ),
}));
const normalised = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
/** An event: mostly an object with an id, sometimes any JSON value that is not an array. */
const eventValue: fc.Arbitrary<unknown> = fc
  .oneof(
    { weight: 4, arbitrary: fc.record({ id: fc.nat(), v: jsonValue }) },
    { weight: 1, arbitrary: jsonValue.filter((v) => !Array.isArray(v)) },
  )
  .map(normalised);

interface BodyStyle {
  /** Indented JSON (a JSON body's whitespace reaches the journal as it is). */
  pretty: boolean;
  /** A UTF-8 byte-order mark before a JSON body. */
  bom: boolean;
  /** NDJSON: CRLF line ends, blank lines between events. */
  crlf: boolean;
  blankLines: boolean;
  /** `application/json; charset=utf-8` or `application/ndjson` instead of the plain types. */
  altType: boolean;
}

interface Payload {
  format: 'single' | 'array' | 'ndjson';
  values: readonly unknown[];
  style: BodyStyle;
}

const BIG_BATCH = 1_001;
/** True one time in five; shrinks to false. */
const rarely = fc.nat(4).map((n) => n === 4);
const styleArb: fc.Arbitrary<BodyStyle> = fc.record({
  pretty: rarely,
  bom: rarely,
  crlf: rarely,
  blankLines: rarely,
  altType: rarely,
});

function bigBatch(seed: number): unknown[] {
  return Array.from({ length: BIG_BATCH }, (_, n) => ({ n, seed, s: `e${(seed + n) % 97}` }));
}

function payloadArb(withBig: boolean): fc.Arbitrary<Payload> {
  const batch = fc.array(eventValue, { minLength: 1, maxLength: 50, size: 'medium' });
  const arbs: fc.WeightedArbitrary<Payload>[] = [
    {
      weight: 4,
      arbitrary: fc.record({
        format: fc.constant('single' as const),
        values: eventValue.map((v) => [v]),
        style: styleArb,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ format: fc.constant('array' as const), values: batch, style: styleArb }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ format: fc.constant('ndjson' as const), values: batch, style: styleArb }),
    },
  ];
  if (withBig) {
    arbs.push({
      weight: 1,
      arbitrary: fc.record({
        format: fc.constantFrom('array' as const, 'ndjson' as const),
        values: fc.nat().map(bigBatch),
        style: styleArb,
      }),
    });
  }
  return fc.oneof(...arbs);
}

function bodyOf(p: Payload): { body: string; contentType: string } {
  const indent = p.style.pretty ? 1 : undefined;
  if (p.format === 'ndjson') {
    const end = p.style.crlf ? '\r\n' : '\n';
    const lines = p.values.map((v) => JSON.stringify(v));
    return {
      body: lines.join(p.style.blankLines ? `${end}${end}` : end) + end,
      contentType: p.style.altType ? 'application/ndjson' : 'application/x-ndjson',
    };
  }
  const text = JSON.stringify(p.format === 'single' ? p.values[0] : p.values, null, indent);
  return {
    body: p.style.bom ? `\uFEFF${text}` : text,
    contentType: p.style.altType ? 'application/json; charset=utf-8' : 'application/json',
  };
}

function showPayload(p: Payload): string {
  const shown = p.values.length === BIG_BATCH ? `${BIG_BATCH} events` : JSON.stringify(p.values);
  const relevant: (keyof BodyStyle)[] =
    p.format === 'ndjson' ? ['crlf', 'blankLines', 'altType'] : ['pretty', 'bom', 'altType'];
  const flags = relevant.filter((k) => p.style[k]);
  const text = `${p.format} ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`;
  return flags.length === 0 ? text : `${text} (${flags.join(',')})`;
}

function requestOf(stream: string, p: Payload): AppendRequest {
  return { stream, data: p.values, ...bodyOf(p) };
}

// ---------------------------------------------------------------------------------------------------
// Commands

type LifecycleCommand = fc.AsyncCommand<SequenceModel, Lifecycle>;

type ExpectedVersionChoice = 'none' | 'right' | 'wrong';

function expectedVersionOf(
  m: LifecycleModel,
  stream: string,
  choice: ExpectedVersionChoice,
): number | undefined {
  if (choice === 'none') return undefined;
  const right = m.nextOffset(stream) - 1;
  return choice === 'right' ? right : right >= 0 && right % 2 === 0 ? right - 1 : right + 1;
}

/** A plain append: one event, a JSON-array batch or NDJSON; maybe `?capacity=` and Expected-Version. */
class AppendCommand implements LifecycleCommand {
  constructor(
    readonly stream: string,
    readonly payload: Payload,
    readonly capacity: number | undefined,
    readonly expected: ExpectedVersionChoice,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    const req = requestOf(this.stream, this.payload);
    req.capacity = this.capacity;
    req.expectedVersion = expectedVersionOf(m, this.stream, this.expected);
    await r.append(m, req);
  }
  toString(): string {
    const opts = [
      ...(this.capacity === undefined ? [] : [`capacity=${this.capacity}`]),
      ...(this.expected === 'none' ? [] : [`expected-version ${this.expected}`]),
    ];
    return `append(${this.stream}, ${showPayload(this.payload)}${opts.map((o) => `, ${o}`).join('')})`;
  }
}

type ProducerMode = 'next' | 'bump' | 'retry' | 'stale' | 'gap' | 'conflict' | 'old';

/**
 * An idempotent producer's append. `next`: the next sequence (epoch `pick % 3` and seq 0 for a producer
 * the stream does not know); `bump`: a higher epoch from seq 0 (or 4); `retry`: a remembered append again,
 * byte for byte (the last one mostly); `stale`: a lower epoch; `gap`: a sequence ahead of the next;
 * `conflict`: a remembered sequence with this payload; `old`: a sequence before the dedupe window.
 */
class ProducerCommand implements LifecycleCommand {
  constructor(
    readonly stream: string,
    readonly id: string,
    readonly mode: ProducerMode,
    readonly payload: Payload,
    readonly pick: number,
    readonly expected: ExpectedVersionChoice,
  ) {}
  check(m: Readonly<SequenceModel>): boolean {
    const state = m.producer(this.stream, this.id);
    switch (this.mode) {
      case 'next':
      case 'bump':
        return true;
      case 'stale':
        return state !== undefined && state.epoch > 0;
      case 'old':
        return state !== undefined && state.recent[0]!.seq > 0;
      default:
        return state !== undefined;
    }
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    const state = m.producer(this.stream, this.id);
    const req = requestOf(this.stream, this.payload);
    req.expectedVersion = expectedVersionOf(m, this.stream, this.expected);
    const fresh = { id: this.id, epoch: this.pick % 3, seq: 0 };
    if (state === undefined) {
      req.producer = fresh;
      await r.append(m, req);
      return;
    }
    const { epoch, lastSeq, recent } = state;
    const remembered = this.pick % 3 === 0 ? recent[this.pick % recent.length]! : recent.at(-1)!;
    switch (this.mode) {
      case 'next':
        req.producer = { id: this.id, epoch, seq: lastSeq + 1 };
        break;
      case 'bump':
        req.producer = { id: this.id, epoch: epoch + 1 + (this.pick % 2), seq: this.pick % 4 === 3 ? 4 : 0 };
        break;
      case 'retry':
        await r.append(m, remembered.request);
        return;
      case 'stale':
        req.producer = { id: this.id, epoch: this.pick % epoch, seq: lastSeq + 1 };
        break;
      case 'gap':
        req.producer = { id: this.id, epoch, seq: lastSeq + 2 + (this.pick % 3) };
        break;
      case 'conflict':
        req.producer = { id: this.id, epoch, seq: remembered.seq };
        break;
      case 'old':
        req.producer = { id: this.id, epoch, seq: this.pick % recent[0]!.seq };
        break;
    }
    await r.append(m, req);
  }
  toString(): string {
    const ev = this.expected === 'none' ? '' : `, expected-version ${this.expected}`;
    return `producer(${this.stream}, ${this.id}, ${this.mode} #${this.pick}, ${showPayload(this.payload)}${ev})`;
  }
}

class DeleteCommand implements LifecycleCommand {
  constructor(readonly stream: string) {}
  check(): boolean {
    return true;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    await r.remove(m, this.stream);
  }
  toString(): string {
    return `delete(${this.stream})`;
  }
}

type ReadFrom = 'default' | 'first' | 'middle' | 'evicted' | 'past';

/** A read of part of a stream (JSON or NDJSON), compared with the model's page. */
class ReadCommand implements LifecycleCommand {
  constructor(
    readonly stream: string,
    readonly from: ReadFrom,
    readonly limit: number | undefined,
    readonly ndjson: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    const s = m.streams.get(this.stream);
    const first = s === undefined ? 0 : m.firstOffset(s);
    const next = s?.next ?? 0;
    const len = next - first;
    const from = {
      default: undefined,
      first,
      middle: first + Math.floor(len / 2),
      evicted: first > 0 ? first - 1 : 0,
      past: next + 1,
    }[this.from];
    const query = [
      ...(from === undefined ? [] : [`from=${from}`]),
      ...(this.limit === undefined ? [] : [`limit=${this.limit}`]),
    ];
    const path = `/streams/${this.stream}${query.length === 0 ? '' : `?${query.join('&')}`}`;
    const reply = await request(`${r.url}${path}`, {
      headers: this.ndjson ? { accept: 'application/x-ndjson' } : {},
    });
    await within(`GET ${path}${this.ndjson ? ' (NDJSON)' : ''}`, () => {
      if (s === undefined) return problem(reply, 404, ErrorCode.STREAM_NOT_FOUND);
      if (from !== undefined && from < first) {
        problem(reply, 410, ErrorCode.OFFSET_EVICTED);
        assert.deepEqual([reply.body.firstOffset, reply.body.requestedOffset], [first, from]);
        return;
      }
      const start = from ?? first;
      const max = this.ndjson ? s.capacity : 10_000;
      const limit = Math.min(this.limit ?? (this.ndjson ? s.capacity : 1_000), max);
      const end = Math.min(next, start + limit);
      const expected = s.events.filter((e) => e.offset >= start && e.offset < end);
      const page = {
        firstOffset: first,
        lastOffset: next - 1,
        nextOffset: expected.length > 0 ? expected.at(-1)!.offset + 1 : Math.min(start, next),
      };
      assert.equal(reply.status, 200, reply.text);
      let events: StoredEvent[];
      if (this.ndjson) {
        assert.match(reply.headers.get('content-type') ?? '', /^application\/x-ndjson/);
        assert.deepEqual(
          {
            firstOffset: Number(reply.headers.get('stream-first-offset')),
            lastOffset: Number(reply.headers.get('stream-last-offset')),
            nextOffset: Number(reply.headers.get('stream-next-offset')),
          },
          page,
        );
        events = reply.text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as StoredEvent);
      } else {
        const { events: read, ...rest } = reply.body;
        assert.deepEqual(rest, { stream: this.stream, ...page });
        events = read as StoredEvent[];
      }
      compareEvents(this.stream, expected, events);
    });
  }
  toString(): string {
    return `read(${this.stream}, from ${this.from}, limit ${this.limit ?? 'default'}${this.ndjson ? ', ndjson' : ''})`;
  }
}

/** The whole state against the model, without a restart. */
class CheckCommand implements LifecycleCommand {
  check(): boolean {
    return true;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    await r.verify(m, 'check');
  }
  toString(): string {
    return 'check()';
  }
}

const SIGNAL_NAMES = { SIGTERM: 'SIGTERM', SIGKILL: 'kill -9' } as const;

async function restartAndVerify(
  m: SequenceModel,
  r: Lifecycle,
  signal: StopSignal,
  probeNextSeq: boolean,
): Promise<void> {
  await r.restart(signal);
  totals.restarts[SIGNAL_NAMES[signal]]++;
  await r.verify(m, `after a restart (${SIGNAL_NAMES[signal]})`, {
    afterGracefulRestart: signal === 'SIGTERM',
    probeNextSeq,
    countEvents: true,
  });
}

/** SIGTERM (graceful, exit 0) or kill -9, then a new process on the same directory; then the full check. */
class RestartCommand implements LifecycleCommand {
  constructor(readonly signal: StopSignal) {}
  check(): boolean {
    return true;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    await restartAndVerify(m, r, this.signal, true);
  }
  toString(): string {
    return `restart(${SIGNAL_NAMES[this.signal]})`;
  }
}

/** Two restarts with nothing written between them (the first check writes nothing). */
class RestartTwiceCommand implements LifecycleCommand {
  constructor(
    readonly first: StopSignal,
    readonly second: StopSignal,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    await restartAndVerify(m, r, this.first, false);
    await restartAndVerify(m, r, this.second, true);
  }
  toString(): string {
    return `restartTwice(${SIGNAL_NAMES[this.first]}, ${SIGNAL_NAMES[this.second]})`;
  }
}

const SNAPSHOT_WAIT_MS = 10_000;

/**
 * Appends, waits until /stats counts a periodic snapshot saved after the acknowledgement (its journal
 * segments may be pruned at that moment), waits `lingerMs` more, kills -9 and restarts.
 */
class KillAfterSnapshotCommand implements LifecycleCommand {
  constructor(
    readonly stream: string,
    readonly payload: Payload,
    readonly lingerMs: number,
  ) {}
  check(m: Readonly<SequenceModel>): boolean {
    // A periodic snapshot needs a change: the append must fit the stream (or it is refused, 400).
    const capacity = m.streams.get(this.stream)?.capacity ?? m.defaultCapacity;
    return m.config.snapshotIntervalMs !== undefined && this.payload.values.length <= capacity;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    assert.equal((await r.append(m, requestOf(this.stream, this.payload))).status, 201);
    const saved = await r.snapshotsSaved();
    const deadline = Date.now() + SNAPSHOT_WAIT_MS;
    while ((await r.snapshotsSaved()) <= saved) {
      assert.ok(Date.now() < deadline, `no periodic snapshot was saved within ${SNAPSHOT_WAIT_MS} ms`);
      await sleep(10);
    }
    if (this.lingerMs > 0) await sleep(this.lingerMs);
    await r.restart('SIGKILL');
    totals.restarts['kill -9 after a periodic snapshot']++;
    await r.verify(m, 'after kill -9 right after a periodic snapshot', {
      probeNextSeq: true,
      countEvents: true,
    });
  }
  toString(): string {
    return `killAfterSnapshot(${this.stream}, ${showPayload(this.payload)}, linger ${this.lingerMs} ms)`;
  }
}

/**
 * Sends an append (a producer's next sequence, or a plain one) and kills -9 the server `delayMs` later,
 * before or after it answered. An unanswered append may or may not be stored, but all or nothing: after
 * the restart the stream's end says which, and the model takes that outcome.
 */
class KillDuringAppendCommand implements LifecycleCommand {
  constructor(
    readonly stream: string,
    readonly payload: Payload,
    readonly delayMs: number,
    readonly producer: boolean,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: SequenceModel, r: Lifecycle): Promise<void> {
    const req = requestOf(this.stream, this.payload);
    if (this.producer) {
      const state = m.producer(this.stream, PRODUCER_IDS[1]);
      req.producer = {
        id: PRODUCER_IDS[1],
        epoch: state?.epoch ?? 1,
        seq: state === undefined ? 0 : state.lastSeq + 1,
      };
    }
    const expected = m.answer(req);
    const loMs = Date.now();
    const sent = request(`${r.url}${appendPath(req)}`, {
      method: 'POST',
      headers: appendHeaders(req),
      body: req.body,
    }).then(
      (reply) => reply,
      () => undefined,
    );
    await sleep(this.delayMs);
    await r.stop('SIGKILL');
    const hiMs = Date.now(); // the process took its receive time before it was gone
    const reply = await sent;
    await r.start();
    totals.restarts['kill -9 during an append']++;
    if (reply !== undefined) {
      totals.inFlight.answered++;
      const what = describeRequest(req);
      await within(what, () => r.expectAnswer(reply, expected, what));
      if (expected.status === 201) m.apply(req, { loMs, hiMs, seenMs: undefined });
    } else if (expected.status === 201) {
      const list = await request(`${r.url}/streams`);
      const listed = (list.body.streams as StreamInfo[]).find((s) => s.name === this.stream);
      const stored =
        listed !== undefined && listed.nextOffset === m.nextOffset(this.stream) + req.data.length;
      if (stored) m.apply(req, { loMs, hiMs, seenMs: undefined });
      totals.inFlight[stored ? 'stored' : 'notStored']++;
    } else totals.inFlight.notStored++;
    await r.verify(m, `after kill -9 during ${describeRequest(req)}`, {
      probeNextSeq: true,
      countEvents: true,
    });
  }
  toString(): string {
    return `killDuringAppend(${this.stream}, ${showPayload(this.payload)}, after ${this.delayMs} ms${this.producer ? ', producer' : ''})`;
  }
}

const streamArb = fc.constantFrom(...STREAM_NAMES);
const expectedArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<ExpectedVersionChoice>('none') },
  { weight: 1, arbitrary: fc.constantFrom<ExpectedVersionChoice>('right', 'wrong') },
);
const signalArb = fc.constantFrom<StopSignal>('SIGTERM', 'SIGKILL');

function commandArb(): fc.Arbitrary<LifecycleCommand> {
  const append = fc
    .tuple(
      streamArb,
      payloadArb(true),
      fc.option(fc.constantFrom(1, 2, 3, 5, 8, 1_200, 0), { nil: undefined, freq: 3 }),
      expectedArb,
    )
    .map(([s, p, c, e]): LifecycleCommand => new AppendCommand(s, p, c, e));
  const producer = fc
    .tuple(
      streamArb,
      fc.constantFrom(...PRODUCER_IDS),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant<ProducerMode>('next') },
        { weight: 3, arbitrary: fc.constant<ProducerMode>('retry') },
        { weight: 1, arbitrary: fc.constantFrom<ProducerMode>('bump', 'stale', 'gap', 'conflict', 'old') },
      ),
      payloadArb(false),
      fc.nat(99),
      expectedArb,
    )
    .map(([s, id, mode, p, pick, e]): LifecycleCommand => new ProducerCommand(s, id, mode, p, pick, e));
  const read = fc
    .tuple(
      streamArb,
      fc.constantFrom<ReadFrom>('default', 'first', 'middle', 'evicted', 'past'),
      fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
      fc.boolean(),
    )
    .map(([s, from, limit, nd]): LifecycleCommand => new ReadCommand(s, from, limit, nd));
  return fc.oneof(
    { weight: 24, arbitrary: append },
    { weight: 18, arbitrary: producer },
    { weight: 4, arbitrary: streamArb.map((s): LifecycleCommand => new DeleteCommand(s)) },
    { weight: 6, arbitrary: read },
    { weight: 2, arbitrary: fc.constant<LifecycleCommand>(new CheckCommand()) },
    // A restart costs a process start (~0.3 s on the 2-core machine): about one per sequence.
    { weight: 2, arbitrary: signalArb.map((s): LifecycleCommand => new RestartCommand(s)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(streamArb, payloadArb(false), fc.constantFrom(0, 0, 5, 50))
        .map(([s, p, linger]): LifecycleCommand => new KillAfterSnapshotCommand(s, p, linger)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(signalArb, signalArb)
        .map(([a, b]): LifecycleCommand => new RestartTwiceCommand(a, b)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(streamArb, payloadArb(true), fc.constantFrom(0, 1, 2, 4, 8), fc.boolean())
        .map(([s, p, delay, prod]): LifecycleCommand => new KillDuringAppendCommand(s, p, delay, prod)),
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// Running sequences

/**
 * Runs `commands` against a new server on a new data directory; checks the state at the end. A fixed
 * list (an array) must apply as it stands: a command whose `check` refuses fails instead of being skipped.
 */
async function runSequence(config: LifecycleConfig, commands: Iterable<LifecycleCommand>): Promise<void> {
  const dir = await tempDir('lfes-lifecycle-');
  const model = new SequenceModel(config);
  const real = new Lifecycle(config, dir);
  totals.sequences++;
  try {
    await real.start();
    if (Array.isArray(commands)) {
      for (const c of commands as LifecycleCommand[]) {
        assert.ok(c.check(model), `${c} applies where the fixed sequence puts it`);
        totals.commands++;
        await c.run(model, real);
      }
    } else {
      await fc.asyncModelRun(() => ({ model, real }), {
        *[Symbol.iterator]() {
          for (const c of commands) {
            totals.commands++;
            yield c;
          }
        },
      });
    }
    await real.verify(model, 'at the end');
    await real.stop('SIGTERM');
  } catch (err) {
    if (err instanceof Error) {
      err.message = `${err.message}\nserver config: ${JSON.stringify(config)}\nserver output:\n${real.server.log}`;
    }
    throw err;
  } finally {
    await real.server.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

const NUM_RUNS = envInteger('LFES_LIFECYCLE_RUNS') ?? 200;
const SEED = envInteger('LFES_LIFECYCLE_SEED');
/** The counterexample path, as printed on failure. */
const PATH = process.env.LFES_LIFECYCLE_PATH ?? '';
/** The commands' replay path, as printed on failure (shrunk command sequences depend on it). */
const REPLAY_PATH = process.env.LFES_LIFECYCLE_REPLAY_PATH ?? '';
const TEST_FILE = 'test/server/lifecycle.model.test.ts';
const SHRINK_BUDGET_MS = 10 * 60_000;

async function runModel(): Promise<void> {
  const constraints = (maxCommands: number): fc.CommandsContraints => {
    const c: fc.CommandsContraints = { maxCommands, size: 'medium' };
    if (REPLAY_PATH !== '') c.replayPath = REPLAY_PATH;
    return c;
  };
  // Mostly 0-20 commands, sometimes up to 50.
  const commands = fc.oneof(
    { weight: 5, arbitrary: fc.commands([commandArb()], constraints(20)) },
    { weight: 1, arbitrary: fc.commands([commandArb()], constraints(50)) },
  );
  // Every shrink step runs a whole sequence (processes, restarts): once SHRINK_BUDGET_MS have passed
  // since the first failure, the remaining candidates are skipped and the smallest failure so far is shown.
  let firstFailureMs: number | undefined;
  const property = fc.asyncProperty(configArb, commands, async (config, cmds) => {
    fc.pre(firstFailureMs === undefined || Date.now() - firstFailureMs < SHRINK_BUDGET_MS);
    try {
      await runSequence(config, cmds);
    } catch (err) {
      firstFailureMs ??= Date.now();
      throw err;
    }
  });
  const seed = SEED ?? Date.now() % 2 ** 31;
  const params: fc.Parameters<[LifecycleConfig, Iterable<LifecycleCommand>]> = { numRuns: NUM_RUNS, seed };
  if (SEED !== undefined && PATH !== '') params.path = PATH;
  console.log(
    `lifecycle model: ${NUM_RUNS} sequences, seed ${seed} (LFES_LIFECYCLE_SEED=${seed} replays them)`,
  );
  totals = newTotals(); // the random sequences only
  const startedMs = Date.now();
  const details = await fc.check(property, params);
  console.log(
    `lifecycle model: ${((Date.now() - startedMs) / 1000).toFixed(1)} s, seed ${details.seed}, ${JSON.stringify(totals)}`,
  );
  if (details.failed) {
    const shown = details.counterexample === null ? '' : String(details.counterexample[1]);
    const replayPath = /replayPath="([^"]*)"/.exec(shown)?.[1] ?? '';
    const replay =
      `replay: LFES_LIFECYCLE_SEED=${details.seed} LFES_LIFECYCLE_PATH='${details.counterexamplePath ?? ''}' ` +
      `LFES_LIFECYCLE_REPLAY_PATH='${replayPath}' node scripts/run-tests.mjs ${TEST_FILE}`;
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : '';
    assert.fail(`${cause}\n${replay}\n${fc.defaultReportMessage(details) ?? ''}`);
  }
  assert.equal(totals.lost, 0);
}

// ---------------------------------------------------------------------------------------------------
// Fixed cases: shapes that broke persistence before, named after their symptom

const plain = (values: unknown[], format: Payload['format'] = 'array'): Payload => ({
  format,
  values,
  style: { pretty: false, bom: false, crlf: false, blankLines: false, altType: false },
});
const ALWAYS: LifecycleConfig = { fsync: 'always', snapshotIntervalMs: undefined, streamCapacity: undefined };
const SNAPSHOTTING: LifecycleConfig = { ...ALWAYS, snapshotIntervalMs: SHORT_SNAPSHOT_INTERVAL_MS };

describe('the server process against the lifecycle model, with restarts', () => {
  before(() => assertBuildIsCurrent());

  it('restarts after SIGTERM following a single event', async () => {
    await runSequence(ALWAYS, [
      new AppendCommand('orders', plain([{ id: 1 }], 'single'), undefined, 'none'),
      new RestartCommand('SIGTERM'),
    ]);
  });

  it('restarts after SIGTERM following a single producer append', async () => {
    for (const config of [ALWAYS, { ...SNAPSHOTTING, fsync: 'everysec' as const }]) {
      await runSequence(config, [
        new ProducerCommand('orders', 'p0', 'next', plain([{ id: 1 }], 'single'), 1, 'none'),
        new RestartCommand('SIGTERM'),
        new ProducerCommand('orders', 'p0', 'retry', plain([{ id: 2 }], 'single'), 1, 'none'),
      ]);
    }
  });

  it('restarts after a single 1,001-event batch (SIGTERM and kill -9, JSON and NDJSON)', async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      for (const format of ['array', 'ndjson'] as const) {
        await runSequence({ ...ALWAYS, fsync: signal === 'SIGTERM' ? 'everysec' : 'always' }, [
          new AppendCommand('gw/eu-1', plain(bigBatch(7), format), undefined, 'none'),
          new RestartCommand(signal),
        ]);
      }
    }
  });

  it('restarts after kill -9 right after a periodic snapshot', async () => {
    for (const fsync of ['always', 'everysec'] as const) {
      await runSequence({ ...SNAPSHOTTING, fsync }, [
        new ProducerCommand('s', 'p0', 'next', plain([{ id: 1 }, { id: 2 }]), 1, 'none'),
        new AppendCommand('orders', plain(bigBatch(3)), undefined, 'none'),
        new KillAfterSnapshotCommand('t/1', plain([{ id: 3 }], 'single'), 0),
        new ProducerCommand('s', 'p0', 'retry', plain([{ id: 4 }]), 1, 'none'),
      ]);
    }
  });

  it('restarts twice with nothing written between the restarts', async () => {
    for (const [a, b] of [
      ['SIGTERM', 'SIGTERM'],
      ['SIGKILL', 'SIGTERM'],
      ['SIGTERM', 'SIGKILL'],
    ] as const) {
      await runSequence(SNAPSHOTTING, [
        new AppendCommand('a.b~c', plain([{ id: 1 }, { id: 2 }, { id: 3 }]), 2, 'none'),
        new ProducerCommand('a.b~c', 'p1', 'next', plain([{ id: 4 }], 'ndjson'), 2, 'none'),
        new DeleteCommand('orders'),
        new AppendCommand('orders', plain([{ id: 5 }], 'single'), undefined, 'right'),
        new DeleteCommand('orders'),
        new RestartTwiceCommand(a, b),
      ]);
    }
  });

  it('exits 0 with a final snapshot on a SIGTERM sent as soon as it prints its listening line', async () => {
    const dir = await tempDir('lfes-lifecycle-');
    const server = new RestartableServer(dir, serveArgs(ALWAYS));
    try {
      await server.start();
      const ack = await request(`${server.url}/streams/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"id":1}',
      });
      assert.equal(ack.status, 201, ack.text);
      assert.equal(await server.stop('SIGTERM'), 0);
      const codes: (number | string)[] = [];
      for (let i = 0; i < 10; i++) {
        await server.start();
        codes.push(await server.stop('SIGTERM')); // no request first: the signal follows the line at once
      }
      await server.start();
      const read = await request(`${server.url}/streams/orders`);
      assert.deepEqual(
        (read.body.events as StoredEvent[]).map((e) => e.data),
        [{ id: 1 }],
        'the event survives every stop',
      );
      assert.equal(await server.stop('SIGTERM'), 0);
      assert.deepEqual(codes, new Array(codes.length).fill(0), `exit statuses:\n${server.log}`);
    } finally {
      await server.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps every acknowledged event, offset and producer state over random lifecycles with restarts', async () => {
    await runModel();
  });
});
