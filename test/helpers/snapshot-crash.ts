// Shared by the crash and fault-injection tests and their child-process fixture: the deterministic
// event model, how a store over a snapshot directory is opened, the on-disk checks made after a
// child died, and a line-oriented handle on a child process.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BinarySnapshotSerializer,
  EventStore,
  FileSystemSnapshotStore,
  type SnapshotLogger,
  type SnapshotOptions,
  type SnapshotStore,
} from '../../src/index.ts';

/** Event number `k` of partition `p`: every field is a function of (p, k), so any event can be checked. */
export interface CrashEvent {
  p: number;
  k: number;
  v: number;
  /** Padding, to make events bigger where a test needs volume. */
  pad?: string;
}

export function eventOf(p: number, k: number): CrashEvent {
  return { p, k, v: (Math.imul(k + 1, 2654435761) ^ (p * 40503)) >>> 0 };
}

/** Ring size of each partition in the snapshot crash scenario (older events are evicted). */
export const SNAPSHOT_CAPACITY = 5_000;
export const SNAPSHOT_PARTITIONS = 2;
/** Ring size in the journal scenarios: large enough to hold every event of a test run. */
export const JOURNAL_CAPACITY = 2_000_000;

export const FIXTURE = fileURLToPath(new URL('../fixtures/snapshot-child.ts', import.meta.url));

export interface Logged {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

export function memoryLogger(): SnapshotLogger & { lines: Logged[] } {
  const lines: Logged[] = [];
  const push =
    (level: string) =>
    (obj: object, msg = '') =>
      lines.push({ level, msg, obj: obj as Record<string, unknown> });
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

/** A store over `root` configured like the fixture's (snapshots on demand only, no timer). */
export function openStore(
  root: string,
  capacityPerPartition: number,
  partitions: number,
  options: SnapshotOptions = {},
  store: SnapshotStore = new FileSystemSnapshotStore(root),
) {
  const es = new EventStore<CrashEvent>({ capacityPerPartition, partitions });
  const logger = memoryLogger();
  const snapshotter = es.configureSnapshots(
    { intervalMs: 0, minEventsBetweenSnapshots: 1_000_000_000, logger, ...options },
    new BinarySnapshotSerializer<CrashEvent>(),
    store,
  );
  return { es, snapshotter, logger };
}

/**
 * Checks that partition `p` holds exactly the last events of its deterministic sequence below
 * `version` (as many as the ring keeps). Returns a description of the first mismatch, or undefined.
 */
export function prefixMismatch(
  events: readonly CrashEvent[],
  p: number,
  version: number,
  capacity: number,
): string | undefined {
  const expected = Math.min(version, capacity);
  if (events.length !== expected) return `partition ${p} holds ${events.length} events at version ${version}`;
  const first = version - expected;
  for (let j = 0; j < events.length; j++) {
    const want = eventOf(p, first + j);
    const got = events[j]!;
    if (got.p !== want.p || got.k !== want.k || got.v !== want.v) {
      return `partition ${p} position ${j}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
    }
  }
  return undefined;
}

/** Every file under `root` (one level of partition/journal directories), relative paths. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of await readdir(root).catch(() => [] as string[])) {
    const names = await readdir(join(root, dir)).catch(() => undefined);
    if (names === undefined) out.push(dir);
    else for (const n of names) out.push(join(dir, n));
  }
  return out.sort();
}

export async function tempFiles(root: string): Promise<string[]> {
  return (await listFiles(root)).filter((n) => n.endsWith('.tmp'));
}

/** Deserializes every `.snap` file under `root`; returns the names that do not validate. */
export async function invalidSnapshots(root: string): Promise<string[]> {
  const serializer = new BinarySnapshotSerializer<CrashEvent>();
  const bad: string[] = [];
  for (const name of await listFiles(root)) {
    if (!name.endsWith('.snap')) continue;
    try {
      await serializer.deserialize(await readFile(join(root, name)));
    } catch {
      bad.push(name);
    }
  }
  return bad;
}

/** A child process whose stdout is collected line by line. */
export class Child {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  #partial = '';
  #listeners: (() => void)[] = [];

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.process = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.process.stdout!.setEncoding('utf8');
    this.process.stdout!.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
      for (const l of this.#listeners) l();
    });
    this.process.stderr!.setEncoding('utf8');
    this.process.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // 'close' comes after stdout has ended, so every line the child wrote is in `lines` by then.
    this.exited = once(this.process, 'close').then(([code]) => code as number | null);
  }

  get pid(): number {
    return this.process.pid!;
  }

  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  /** Resolves when `predicate` holds for the lines so far; rejects on exit or after `timeoutMs`. */
  waitFor(predicate: (lines: readonly string[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    if (predicate(this.lines)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== check);
        if (err === undefined) resolve();
        else reject(err);
      };
      const check = (): void => {
        if (predicate(this.lines)) done();
      };
      const timer = setTimeout(
        () => done(new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`)),
        timeoutMs,
      );
      this.#listeners.push(check);
      void this.exited.then((code) => {
        if (!predicate(this.lines)) {
          done(new Error(`child exited (${code}) before ${what}; stderr: ${this.stderr.slice(-2000)}`));
        }
      });
    });
  }

  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }
}

/** Starts the snapshot fixture with tsx, optionally under a wrapper command (e.g. fiu-run). */
export function startFixture(args: string[], wrapper: string[] = []): Child {
  const nodeArgs = ['--import', 'tsx', FIXTURE, ...args];
  if (wrapper.length === 0) return new Child(process.execPath, nodeArgs);
  return new Child(wrapper[0]!, [...wrapper.slice(1), process.execPath, ...nodeArgs]);
}
