// Runs the built `lockfree-eventstore serve` (dist/cli/main.js, or the file LFES_LIFECYCLE_CLI names)
// as a child process on one data directory, again and again: start, SIGTERM, kill -9. Node starts the
// built file several times faster than src/ through tsx, which is what a test of many restarts needs.
// One process at a time; every process's output is kept (the tail) for failure reports.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverEntry } from '../../bench/lib/service.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The CLI the processes run: `LFES_LIFECYCLE_CLI` (another build of the server) or this tree's dist/. */
export const SERVER_CLI = process.env.LFES_LIFECYCLE_CLI ?? join(root, 'dist/cli/main.js');

/** Output kept per data directory: the newest characters of every process, oldest dropped first. */
const MAX_LOG_CHARS = 64 * 1024;
const START_TIMEOUT_MS = 20_000;
const EXIT_TIMEOUT_MS = 20_000;

/**
 * Throws unless dist/ exists and is at least as new as every file of src/ (`npm test` builds it first; a
 * test file run on its own after a change to src/ would otherwise test the old build).
 */
export function assertBuildIsCurrent(): void {
  if (process.env.LFES_LIFECYCLE_CLI !== undefined) return;
  if (serverEntry().args[0] !== 'dist/cli/main.js') {
    throw new Error('dist/ is missing or older than src/: run `npm run build` first');
  }
}

export type StopSignal = 'SIGTERM' | 'SIGKILL';

/** The server of one data directory, started and stopped as often as a test likes. */
export class RestartableServer {
  readonly dataDir: string;
  readonly args: readonly string[];
  #child: ChildProcess | undefined;
  #exited: Promise<number | string> | undefined;
  #url = '';
  #log = '';
  /** Processes started so far. */
  starts = 0;

  /** `args`: `serve` options besides `--port 0` and `--data-dir`. */
  constructor(dataDir: string, args: readonly string[]) {
    this.dataDir = dataDir;
    this.args = args;
  }

  /** Base URL of the running process. */
  get url(): string {
    assert.ok(this.#child !== undefined, 'the server is not running');
    return this.#url;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The tail of every process's stdout and stderr, each line prefixed with the process's start number. */
  get log(): string {
    return this.#log;
  }

  #append(prefix: string, text: string): void {
    const lines = text.split('\n').filter((l) => l !== '');
    this.#log += lines.map((l) => `${prefix} ${l}\n`).join('');
    if (this.#log.length > MAX_LOG_CHARS) this.#log = this.#log.slice(-MAX_LOG_CHARS);
  }

  /** Starts a process on the data directory; resolves with its URL once it listens (after its restore). */
  async start(): Promise<string> {
    assert.equal(this.#child, undefined, 'a server is already running on this data directory');
    const number = ++this.starts;
    const child = spawn(
      process.execPath,
      [SERVER_CLI, 'serve', '--port', '0', '--data-dir', this.dataDir, ...this.args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const prefix = `[start ${number}, pid ${child.pid}]`;
    this.#append(prefix, `serve ${this.args.join(' ')}`);
    const exited = new Promise<number | string>((resolve) =>
      child.on('exit', (code, signal) => {
        this.#append(prefix, `exited: ${code ?? signal}`);
        resolve(code ?? signal ?? -1);
      }),
    );
    this.#child = child;
    this.#exited = exited;
    let banner = '';
    this.#url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server start ${number} did not listen within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      child.stdout!.on('data', (chunk: Buffer) => this.#append(prefix, chunk.toString()));
      // The banner ("listening on <url>") goes to stderr; stdout carries only the JSON log.
      child.stderr!.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        this.#append(`${prefix} stderr:`, text);
        banner += text;
        const m = /listening on (http:\/\/\S+)/.exec(banner);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`server start ${number} exited with ${code} before listening`));
      });
    }).catch((err: unknown) => {
      this.#child = undefined;
      child.kill('SIGKILL');
      throw err;
    });
    return this.#url;
  }

  /** Sends `signal` and resolves with the exit code (a number) or the signal's name once the process is gone. */
  async stop(signal: StopSignal): Promise<number | string> {
    const child = this.#child;
    const exited = this.#exited;
    assert.ok(child !== undefined && exited !== undefined, 'the server is not running');
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), EXIT_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (code === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      this.#child = undefined;
      throw new Error(`the server did not exit within ${EXIT_TIMEOUT_MS} ms of ${signal}`);
    }
    this.#child = undefined;
    return code;
  }

  /** Kills a process still running (a failed test): nothing is checked. */
  async dispose(): Promise<void> {
    if (this.#child !== undefined) await this.stop('SIGKILL').catch(() => {});
  }
}
