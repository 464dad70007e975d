// The lifecycle model test's machinery, shared by the test of one server process
// (test/server/lifecycle.model.test.ts) and the test of a cluster's store nodes
// (test/cluster/lifecycle.model.test.ts): the real system behind a target (one process, or several
// nodes of one cluster), every request it sends and the checks of its answers against the model
// (test/helpers/lifecycle-model.ts), the payloads, the commands of a sequence and their arbitraries,
// and the runner of random and fixed sequences (seeded; a failure prints the seed and the paths that
// replay it).

import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { StreamInfo } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/errors.ts';
import { envInteger } from './env.ts';
import {
  type AppendAnswer,
  type AppendRequest,
  LifecycleModel,
  type ModelEvent,
  type ProducerHeaders,
  type ReceiveTime,
} from './lifecycle-model.ts';
import type { RestartableServer, StopSignal } from './restartable-server.ts';
import { problem } from './server.ts';

// ---------------------------------------------------------------------------------------------------
// Sequence configurations and the model

/** What the commands need to know of a sequence's server configuration. */
export interface SequenceConfig {
  /** `--snapshot-interval-ms`; undefined: the default (60 s, so no periodic snapshot within a sequence). */
  snapshotIntervalMs: number | undefined;
  /** `--stream-capacity`; undefined: the default. */
  streamCapacity: number | undefined;
}

const DEFAULT_STREAM_CAPACITY = 100_000;
/** Periodic snapshots (a cluster node's checkpoints) of the sequences that have them: several per sequence. */
export const SHORT_SNAPSHOT_INTERVAL_MS = 200;

/** The `serve` options of a configuration that the single server and the cluster's nodes share. */
export function sequenceArgs(c: SequenceConfig): string[] {
  const args = ['--log-level', 'info'];
  if (c.snapshotIntervalMs !== undefined) args.push('--snapshot-interval-ms', String(c.snapshotIntervalMs));
  if (c.streamCapacity !== undefined) args.push('--stream-capacity', String(c.streamCapacity));
  return args;
}

/** The fast-check model: the service's state and the configuration of the sequence's servers. */
export class SequenceModel extends LifecycleModel {
  readonly config: SequenceConfig;
  /** A cluster: whether a store node was stopped by a command and is not started again yet. */
  nodeDown = false;

  constructor(config: SequenceConfig) {
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
    requests: 0,
    serverStarts: 0,
    restarts: {
      SIGTERM: 0,
      'kill -9': 0,
      'kill -9 after a periodic snapshot': 0,
      'kill -9 during an append': 0,
    } as Record<string, number>,
    acknowledgedRequests: 0,
    acknowledgedEvents: 0,
    duplicatesAcknowledged: 0,
    refusals: 0,
    /** Events compared with the model in the full checks after restarts (per node checked). */
    eventsCheckedAfterRestarts: 0,
    /** Acknowledged events missing or changed in a check (the test fails on the first one). */
    lost: 0,
    /** Changes whose outcome the answer left open (a kill -9 in flight, a 503 outcome unknown). */
    inFlight: { answered: 0, stored: 0, notStored: 0 },
    /** Cluster: answers 503 ES_ERR_OUTCOME_UNKNOWN (settled like an unanswered append). */
    outcomeUnknown: 0,
  };
}
let totals = newTotals();

/** Counts one restart of the kind `what`. */
export function countRestart(what: string): void {
  totals.restarts[what] = (totals.restarts[what] ?? 0) + 1;
}

// ---------------------------------------------------------------------------------------------------
// HTTP: one connection per request (a restarted server may get the port of a killed one back)

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

const REQUEST_TIMEOUT_MS = 30_000;

export function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const method = init.method ?? 'GET';
  totals.requests++;
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

export interface StoredEvent {
  offset: number;
  timestamp: number;
  data: unknown;
}

// ---------------------------------------------------------------------------------------------------
// The real system: server processes behind a target

/** The processes a sequence runs against: one server, or the store nodes of one cluster. */
export interface LifecycleTarget {
  /**
   * True for the store nodes of a cluster: changes go through the cluster's log, answers carry
   * `ES-Log-Position`, a 503 ES_ERR_OUTCOME_UNKNOWN is a possible answer, and the node keeps
   * checkpoints instead of snapshots and a journal.
   */
  readonly cluster: boolean;
  /** One server process per node, each on its own data directory (one node for a single server). */
  readonly nodes: readonly RestartableServer[];
  /** Stops whatever still runs (nothing is checked) and removes the data directories. */
  dispose(): Promise<void>;
}

export const SIGNAL_NAMES = { SIGTERM: 'SIGTERM', SIGKILL: 'kill -9' } as const;
/** A cluster node's checkpoint files: `<data-dir>/0/0_<log position>_<taken at ms>.snap`. */
const CHECKPOINT_FILE = /^0_(\d+)_\d+\.snap$/;

/**
 * The real system of one sequence. Requests go to one node at a time (`use` picks it); the checks of
 * the whole state run against every running node.
 */
export class Lifecycle {
  readonly target: LifecycleTarget;
  #node = 0;
  /** Cluster: the highest `ES-Log-Position` of a change acknowledged so far. */
  #ackedPosition = 0;
  /** Cluster: the `ES-Log-Position` of the last change acknowledged. */
  #lastAckPosition = 0;
  /**
   * Cluster: the checkpoint each stopped node must start from: the position it had applied when it
   * got SIGTERM, or 0 when its data directory is empty. Unknown after a kill -9.
   */
  readonly #checkpointAt = new Map<number, number>();

  constructor(target: LifecycleTarget) {
    this.target = target;
    if (target.cluster) for (const node of target.nodes.keys()) this.#checkpointAt.set(node, 0);
  }

  get cluster(): boolean {
    return this.target.cluster;
  }

  /** The node the requests go to now. */
  get node(): number {
    return this.#node;
  }

  get #server(): RestartableServer {
    return this.target.nodes[this.#node]!;
  }

  /** Base URL of the node the requests go to now. */
  get url(): string {
    return this.#server.url;
  }

  /** The nodes whose process runs, in order. */
  running(): number[] {
    return this.target.nodes.flatMap((n, i) => (n.running ? [i] : []));
  }

  /** Sends the next requests to the running node number `pick` (modulo the running nodes). */
  use(pick: number): void {
    const running = this.running();
    assert.ok(running.length > 0, 'no node runs');
    this.#node = running[pick % running.length]!;
  }

  /** The name of a node in messages. */
  nodeName(node = this.#node): string {
    return this.cluster ? `node ${node + 1}` : 'the server';
  }

  /** Starts every node on its empty data directory: the first alone (it creates a cluster's log). */
  async startAll(): Promise<void> {
    await this.start(0);
    await Promise.all(this.target.nodes.slice(1).map((_, i) => this.start(i + 1)));
  }

  /**
   * Starts `node`'s process and waits until it answers /health, as a load balancer's readiness check
   * would: a SIGTERM in the first moment after the listening line is the case of its own test.
   */
  async start(node = this.#node): Promise<void> {
    const server = this.target.nodes[node]!;
    await server.start();
    totals.serverStarts++;
    const health = await request(`${server.url}/health`);
    assert.equal(health.status, 200, health.text);
    const checkpoint = this.#checkpointAt.get(node);
    if (checkpoint !== undefined) {
      this.#checkpointAt.delete(node);
      assert.equal(
        (await this.clusterStatus(node)).startedFromCheckpoint,
        checkpoint,
        checkpoint === 0
          ? `${this.nodeName(node)} started on an empty data directory replays the whole log`
          : `${this.nodeName(node)} starts from the checkpoint its SIGTERM wrote at the position it had applied`,
      );
    }
  }

  /** Stops `node` with `signal`: SIGTERM must exit 0. */
  async stop(signal: StopSignal, node = this.#node): Promise<void> {
    // A node stopped gracefully checkpoints what it applied (nothing is applied meanwhile: the test
    // sends one request at a time, and a kill -9 must not wait for this request).
    const position = this.cluster && signal === 'SIGTERM' ? (await this.clusterStatus(node)).position : 0;
    const code = await this.target.nodes[node]!.stop(signal);
    if (signal === 'SIGTERM') assert.equal(code, 0, 'SIGTERM drains, writes a final snapshot and exits 0');
    else assert.equal(code, 'SIGKILL');
    if (position > 0) this.#checkpointAt.set(node, position);
  }

  /** Removes a stopped node's data directory: its next start begins from nothing. */
  async wipe(node = this.#node): Promise<void> {
    assert.ok(!this.target.nodes[node]!.running, 'the node to wipe is stopped');
    await rm(this.target.nodes[node]!.dataDir, { recursive: true, force: true });
    if (this.cluster) this.#checkpointAt.set(node, 0);
  }

  /**
   * Stops the current node with `signal` and starts a new process on its data directory (`empty`: on
   * nothing; a cluster node then catches up from the log alone).
   */
  async restart(signal: StopSignal, options: { empty?: boolean } = {}): Promise<void> {
    await this.stop(signal);
    if (options.empty === true) await this.wipe();
    await this.start();
  }

  /** `GET /cluster` of `node`. */
  async clusterStatus(node = this.#node): Promise<{ position: number; startedFromCheckpoint: number }> {
    const r = await request(`${this.target.nodes[node]!.url}/cluster`);
    assert.equal(r.status, 200, r.text);
    return r.body as { position: number; startedFromCheckpoint: number };
  }

  /**
   * Waits until the current node saved a periodic snapshot after the last acknowledged change: one
   * more snapshot counted by /stats, or a cluster node's checkpoint at or after the change's position.
   */
  async waitForPeriodicSnapshot(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const saved = this.cluster ? this.#lastAckPosition - 1 : await this.#snapshotsSaved();
    while ((this.cluster ? await this.#newestCheckpoint() : await this.#snapshotsSaved()) <= saved) {
      assert.ok(Date.now() < deadline, `no periodic snapshot was saved within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  async #snapshotsSaved(): Promise<number> {
    const r = await request(`${this.url}/stats`);
    assert.equal(r.status, 200, r.text);
    return (r.body.persistence as { snapshotsSaved: number }).snapshotsSaved;
  }

  async #newestCheckpoint(): Promise<number> {
    const names = await readdir(join(this.#server.dataDir, '0')).catch(() => [] as string[]);
    return Math.max(0, ...names.map((n) => Number(CHECKPOINT_FILE.exec(n)?.[1] ?? 0)));
  }

  /** Cluster: a change's answer names its position in the log; reads must be at least there after it. */
  #acknowledged(r: Reply, what: string): void {
    if (!this.cluster) return;
    const position = Number(r.headers.get('es-log-position'));
    assert.ok(Number.isSafeInteger(position) && position > 0, `${what}: ES-Log-Position of a change`);
    this.#lastAckPosition = position;
    this.#ackedPosition = Math.max(this.#ackedPosition, position);
  }

  /**
   * Cluster: a read answers at a log position at or after every change acknowledged before it was
   * sent (on any node), and is not marked possibly stale.
   */
  expectCaughtUp(r: Reply, what: string): void {
    if (!this.cluster) return;
    const position = Number(r.headers.get('es-log-position'));
    assert.ok(
      position >= this.#ackedPosition,
      `${what}: ${this.nodeName()} answered at log position ${position}, before ${this.#ackedPosition} (a change acknowledged before the read)`,
    );
    assert.equal(r.headers.get('es-possibly-stale'), null, `${what}: ES-Possibly-Stale`);
  }

  /** Checks an answer against the model's. */
  expectAnswer(r: Reply, expected: AppendAnswer, what: string): void {
    if ('ack' in expected) {
      assert.equal(r.status, expected.status, `${what}: ${r.text}`);
      assert.deepEqual(r.body, expected.ack, what);
      this.#acknowledged(r, what);
      return;
    }
    problem(r, expected.status, expected.code);
    for (const [k, v] of Object.entries(expected.members)) assert.deepEqual(r.body[k], v, `${what}: ${k}`);
    if (expected.code === ErrorCode.WRONG_EXPECTED_VERSION) {
      assert.equal(r.headers.get('es-current-version'), String(expected.members.currentVersion));
    }
  }

  /** Whether `r` says that the outcome of a change is unknown (only a cluster node answers that). */
  outcomeUnknown(r: Reply): boolean {
    return this.cluster && r.status === 503 && r.body.code === ErrorCode.OUTCOME_UNKNOWN;
  }

  /**
   * Settles an append whose answer did not say its outcome (none came, or 503 outcome unknown): it is
   * stored whole or not at all, and the stream's end (read after the log caught up) says which; the
   * model takes that outcome. An append the model refuses changes nothing either way.
   */
  async settle(
    m: LifecycleModel,
    req: AppendRequest,
    expected: AppendAnswer,
    time: ReceiveTime,
  ): Promise<void> {
    if (expected.status !== 201) {
      totals.inFlight.notStored++;
      return;
    }
    const list = await request(`${this.url}/streams`);
    assert.equal(list.status, 200, list.text);
    const listed = (list.body.streams as StreamInfo[]).find((s) => s.name === req.stream);
    const stored = listed !== undefined && listed.nextOffset === m.nextOffset(req.stream) + req.data.length;
    if (stored) m.apply(req, time);
    totals.inFlight[stored ? 'stored' : 'notStored']++;
  }

  /** Sends an append, checks the answer against the model and records it there if acknowledged. */
  async append(m: LifecycleModel, req: AppendRequest): Promise<AppendAnswer> {
    const expected = m.answer(req);
    const what = `${describeRequest(req)} to ${this.nodeName()}`;
    const loMs = Date.now();
    const r = await request(`${this.url}${appendPath(req)}`, {
      method: 'POST',
      headers: appendHeaders(req),
      body: req.body,
    });
    const hiMs = Date.now();
    if (this.outcomeUnknown(r)) {
      totals.outcomeUnknown++;
      await this.settle(m, req, expected, { loMs, hiMs, seenMs: undefined });
      return expected;
    }
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
    const what = `DELETE /streams/${name} to ${this.nodeName()}`;
    const r = await request(`${this.url}/streams/${name}`, { method: 'DELETE' });
    if (this.outcomeUnknown(r)) {
      totals.outcomeUnknown++;
      const list = await request(`${this.url}/streams`);
      assert.equal(list.status, 200, list.text);
      if (!(list.body.streams as StreamInfo[]).some((s) => s.name === name)) m.delete(name);
      return;
    }
    const next = m.delete(name);
    await within(what, () => {
      if (next === undefined) problem(r, 404, ErrorCode.STREAM_NOT_FOUND);
      else {
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body, { stream: name, deleted: true, nextOffset: next });
        this.#acknowledged(r, what);
      }
    });
  }

  /**
   * The whole state of every running node against the model: the stream list, full reads of every
   * stream (events, offsets, data, receive times), evicted offsets, tombstones and never-created
   * names, every producer's state, and /stats; in a cluster also that every node holds the same
   * digest of every stream. Writes nothing unless `probeNextSeq` (then every producer appends its next
   * sequence, through every node in turn).
   */
  async verify(
    m: LifecycleModel,
    when: string,
    options: { afterGracefulRestart?: boolean; probeNextSeq?: boolean; countEvents?: boolean } = {},
  ): Promise<void> {
    const current = this.#node;
    try {
      for (const node of this.running()) {
        this.#node = node;
        await within(this.cluster ? `${when}, ${this.nodeName()}` : when, () => this.#verifyNode(m, options));
      }
    } finally {
      this.#node = current;
    }
    if (this.cluster) await within(when, () => this.#compareDigests());
  }

  async #verifyNode(
    m: LifecycleModel,
    options: { afterGracefulRestart?: boolean; probeNextSeq?: boolean; countEvents?: boolean },
  ): Promise<void> {
    const list = await request(`${this.url}/streams`);
    assert.equal(list.status, 200, list.text);
    this.expectCaughtUp(list, 'GET /streams');
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
    if (this.cluster) {
      // A cluster node has no snapshots or journal of its own: the log is its journal.
      const c = stats.body.cluster as Record<string, unknown>;
      assert.deepEqual(
        {
          streams: stats.body.streams,
          events: stats.body.events,
          persistence: p,
          connected: c.connected,
          possiblyStale: c.possiblyStale,
          broken: c.broken,
        },
        {
          streams: m.streams.size,
          events: m.heldEvents(),
          persistence: { enabled: false },
          connected: true,
          possiblyStale: false,
          broken: undefined,
        },
        'GET /stats',
      );
    } else {
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
    }
    const errors = this.#server.log.split('\n').filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors, [], 'the server logs no error');
  }

  async #verifyStream(m: LifecycleModel, name: string, countEvents: boolean): Promise<void> {
    const s = m.streams.get(name);
    if (s === undefined) {
      const r = await request(`${this.url}/streams/${name}`);
      this.expectCaughtUp(r, `GET /streams/${name}`);
      problem(r, 404, ErrorCode.STREAM_NOT_FOUND);
    } else {
      const first = m.firstOffset(s);
      const events: StoredEvent[] = [];
      for (let from = first; from < s.next; ) {
        const r = await request(`${this.url}/streams/${name}?from=${from}&limit=10000`);
        assert.equal(r.status, 200, r.text);
        this.expectCaughtUp(r, `GET /streams/${name}?from=${from}`);
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
        this.expectCaughtUp(r, `GET /streams/${name}?from=${first - 1}`);
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

  /** Cluster: every running node, caught up with the log, holds the same digest of every stream. */
  async #compareDigests(): Promise<void> {
    const digests: unknown[] = [];
    for (const node of this.running()) {
      const r = await request(`${this.target.nodes[node]!.url}/cluster/digest`);
      assert.equal(r.status, 200, r.text);
      digests.push(r.body);
    }
    for (const [i, d] of digests.entries()) {
      assert.deepEqual(d, digests[0], `node ${this.running()[i]! + 1} holds the digests of the first node`);
    }
  }

  /** Every node's output (the newest lines), for failure reports. */
  output(): string {
    return this.target.nodes
      .map((n, i) => (this.cluster ? `${this.nodeName(i)} output:\n${n.log}` : n.log))
      .join('\n');
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

export interface Payload {
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

export function bigBatch(seed: number): unknown[] {
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

export type LifecycleCommand = fc.AsyncCommand<SequenceModel, Lifecycle>;

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
export class AppendCommand implements LifecycleCommand {
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
export class ProducerCommand implements LifecycleCommand {
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

export class DeleteCommand implements LifecycleCommand {
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
export class ReadCommand implements LifecycleCommand {
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
    await within(`GET ${path}${this.ndjson ? ' (NDJSON)' : ''} from ${r.nodeName()}`, () => {
      r.expectCaughtUp(reply, 'the read');
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
export class CheckCommand implements LifecycleCommand {
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

async function restartAndVerify(
  m: SequenceModel,
  r: Lifecycle,
  signal: StopSignal,
  probeNextSeq: boolean,
): Promise<void> {
  await r.restart(signal);
  countRestart(SIGNAL_NAMES[signal]);
  await r.verify(m, `after a restart of ${r.nodeName()} (${SIGNAL_NAMES[signal]})`, {
    afterGracefulRestart: signal === 'SIGTERM',
    probeNextSeq,
    countEvents: true,
  });
}

/** SIGTERM (graceful, exit 0) or kill -9, then a new process on the same directory; then the full check. */
export class RestartCommand implements LifecycleCommand {
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
export class RestartTwiceCommand implements LifecycleCommand {
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
export class KillAfterSnapshotCommand implements LifecycleCommand {
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
    await r.waitForPeriodicSnapshot(SNAPSHOT_WAIT_MS);
    if (this.lingerMs > 0) await sleep(this.lingerMs);
    await r.restart('SIGKILL');
    countRestart('kill -9 after a periodic snapshot');
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
export class KillDuringAppendCommand implements LifecycleCommand {
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
    countRestart('kill -9 during an append');
    if (reply !== undefined && !r.outcomeUnknown(reply)) {
      totals.inFlight.answered++;
      const what = describeRequest(req);
      await within(what, () => r.expectAnswer(reply, expected, what));
      if (expected.status === 201) m.apply(req, { loMs, hiMs, seenMs: undefined });
    } else await r.settle(m, req, expected, { loMs, hiMs, seenMs: undefined });
    await r.verify(m, `after kill -9 of ${r.nodeName()} during ${describeRequest(req)}`, {
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
export const signalArb = fc.constantFrom<StopSignal>('SIGTERM', 'SIGKILL');

export function commandArb(): fc.Arbitrary<LifecycleCommand> {
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

/** A payload without style: compact JSON, plain content types. */
export function plain(values: unknown[], format: Payload['format'] = 'array'): Payload {
  return {
    format,
    values,
    style: { pretty: false, bom: false, crlf: false, blankLines: false, altType: false },
  };
}

// ---------------------------------------------------------------------------------------------------
// Running sequences

/** Makes the processes of one sequence (none started yet) on new data directories. */
export type TargetFactory<C extends SequenceConfig> = (config: C) => Promise<LifecycleTarget>;

/**
 * Runs `commands` against a new target (every node started on an empty data directory); starts a
 * node a command left stopped and checks the state at the end, then stops every node with SIGTERM. A
 * fixed list (an array) must apply as it stands: a command whose `check` refuses fails instead of
 * being skipped.
 */
export async function runSequence<C extends SequenceConfig>(
  config: C,
  commands: Iterable<LifecycleCommand>,
  newTarget: TargetFactory<C>,
): Promise<void> {
  const model = new SequenceModel(config);
  const real = new Lifecycle(await newTarget(config));
  totals.sequences++;
  try {
    await real.startAll();
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
    for (const [node, server] of real.target.nodes.entries()) if (!server.running) await real.start(node);
    await real.verify(model, 'at the end');
    for (const node of real.running()) await real.stop('SIGTERM', node);
  } catch (err) {
    if (err instanceof Error) {
      err.message = `${err.message}\nserver config: ${JSON.stringify(config)}\nserver output:\n${real.output()}`;
    }
    throw err;
  } finally {
    await real.target.dispose();
  }
}

/** How a test file runs random sequences. */
export interface ModelRun<C extends SequenceConfig> {
  /** The run's name in its report lines. */
  title: string;
  /**
   * Prefix of the environment variables that set the run: `<prefix>_RUNS` (the number of sequences),
   * `<prefix>_SEED`, `<prefix>_PATH` and `<prefix>_REPLAY_PATH` (a failure prints them to replay it).
   */
  envPrefix: string;
  defaultRuns: number;
  /** The test file, for the replay command. */
  testFile: string;
  configArb: fc.Arbitrary<C>;
  commandArb: fc.Arbitrary<LifecycleCommand>;
  newTarget: TargetFactory<C>;
}

const SHRINK_BUDGET_MS = 10 * 60_000;

/**
 * Runs `run.defaultRuns` (or `<prefix>_RUNS`) random sequences, seeded; prints the seed, the time and
 * the totals; fails with the smallest failing sequence found and the command that replays it.
 */
export async function runModel<C extends SequenceConfig>(run: ModelRun<C>): Promise<void> {
  const numRuns = envInteger(`${run.envPrefix}_RUNS`) ?? run.defaultRuns;
  const fixedSeed = envInteger(`${run.envPrefix}_SEED`);
  /** The counterexample path, as printed on failure. */
  const path = process.env[`${run.envPrefix}_PATH`] ?? '';
  /** The commands' replay path, as printed on failure (shrunk command sequences depend on it). */
  const replayPath = process.env[`${run.envPrefix}_REPLAY_PATH`] ?? '';
  const constraints = (maxCommands: number): fc.CommandsContraints => {
    const c: fc.CommandsContraints = { maxCommands, size: 'medium' };
    if (replayPath !== '') c.replayPath = replayPath;
    return c;
  };
  // Mostly 0-20 commands, sometimes up to 50.
  const commands = fc.oneof(
    { weight: 5, arbitrary: fc.commands([run.commandArb], constraints(20)) },
    { weight: 1, arbitrary: fc.commands([run.commandArb], constraints(50)) },
  );
  // Every shrink step runs a whole sequence (processes, restarts): once SHRINK_BUDGET_MS have passed
  // since the first failure, the remaining candidates are skipped and the smallest failure so far is shown.
  let firstFailureMs: number | undefined;
  const property = fc.asyncProperty(run.configArb, commands, async (config, cmds) => {
    fc.pre(firstFailureMs === undefined || Date.now() - firstFailureMs < SHRINK_BUDGET_MS);
    try {
      await runSequence(config, cmds, run.newTarget);
    } catch (err) {
      firstFailureMs ??= Date.now();
      throw err;
    }
  });
  const seed = fixedSeed ?? Date.now() % 2 ** 31;
  const params: fc.Parameters<[C, Iterable<LifecycleCommand>]> = { numRuns, seed };
  if (fixedSeed !== undefined && path !== '') params.path = path;
  console.log(
    `${run.title}: ${numRuns} sequences, seed ${seed} (${run.envPrefix}_SEED=${seed} replays them)`,
  );
  totals = newTotals(); // the random sequences only
  const startedMs = Date.now();
  const details = await fc.check(property, params);
  console.log(
    `${run.title}: ${((Date.now() - startedMs) / 1000).toFixed(1)} s, seed ${details.seed}, ${JSON.stringify(totals)}`,
  );
  if (details.failed) {
    const shown = details.counterexample === null ? '' : String(details.counterexample[1]);
    const shownReplayPath = /replayPath="([^"]*)"/.exec(shown)?.[1] ?? '';
    const replay =
      `replay: ${run.envPrefix}_SEED=${details.seed} ${run.envPrefix}_PATH='${details.counterexamplePath ?? ''}' ` +
      `${run.envPrefix}_REPLAY_PATH='${shownReplayPath}' node scripts/run-tests.mjs ${run.testFile}`;
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : '';
    assert.fail(`${cause}\n${replay}\n${fc.defaultReportMessage(details) ?? ''}`);
  }
  assert.equal(totals.lost, 0);
}
