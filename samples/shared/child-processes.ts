// The child processes of a topology script (samples/gateway, samples/cluster): each in its own
// process group (a terminal's Ctrl-C reaches only the script, which stops them in its own order), its
// output prefixed with its name, waited for by a line it prints, a file it writes or a URL it answers,
// and stopped with a signal and a grace period before SIGKILL to its whole group.

import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface Child {
  name: string;
  process: ChildProcess;
  /** Emits 'line' for every line of the child's stdout and stderr. */
  lines: EventEmitter;
  /** The exit code, or the signal's name. */
  exited: Promise<number | string>;
  done: boolean;
}

/** The children of one script. */
export class ChildGroup {
  readonly children: Child[] = [];
  /** Set once the script stops its children: their exits are then expected. */
  stopping = false;
  readonly #cwd: string;
  readonly #onUnexpectedExit: (child: Child) => void;

  /** `onUnexpectedExit` runs when a child exits before `stopping` is set (after the exit is reported). */
  constructor(cwd: string, onUnexpectedExit: (child: Child) => void) {
    this.#cwd = cwd;
    this.#onUnexpectedExit = onUnexpectedExit;
    // Last resort on a crash of the script: no orphan keeps a port.
    process.on('exit', () => {
      for (const c of this.children) if (!c.done) killGroup(c);
    });
  }

  /**
   * Spawns a child in its own process group, echoing its output prefixed with its name: every line,
   * or those `echo` accepts (all of them still reach `lines`).
   */
  start(
    name: string,
    command: string,
    args: string[],
    env: Record<string, string> = {},
    echo: (line: string) => boolean = () => true,
  ): Child {
    const child = spawn(command, args, {
      cwd: this.#cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const lines = new EventEmitter();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (echo(line)) console.log(`[${name}] ${line}`);
      lines.emit('line', line);
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (echo(line)) console.error(`[${name}] ${line}`);
      lines.emit('line', line);
    });
    const entry: Child = {
      name,
      process: child,
      lines,
      done: false,
      exited: new Promise((resolve) => {
        child.once('error', (err) => {
          console.error(`[${name}] ${err.message}`);
          resolve(-1);
        });
        child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
      }),
    };
    void entry.exited.then((status) => {
      entry.done = true;
      if (this.stopping) return;
      console.error(`[${name}] exited (${status})`);
      this.#onUnexpectedExit(entry);
    });
    this.children.push(entry);
    return entry;
  }

  /** The children still running whose names start with `prefix`. */
  running(prefix: string): Child[] {
    return this.children.filter((c) => c.name.startsWith(prefix) && !c.done);
  }
}

/** Resolves with the first group of the first match of `pattern` in the child's output; rejects if it exits first. */
export function waitForLine(child: Child, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${child.name} did not start in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onLine = (line: string): void => {
      const m = pattern.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      child.lines.off('line', onLine);
      resolve(m[1] ?? m[0]);
    };
    child.lines.on('line', onLine);
    void child.exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${status}) before it was ready`));
    });
  });
}

/** Polls until `path` exists. */
export async function waitForFile(child: Child, path: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (child.done) throw new Error(`${child.name} exited before it was ready`);
    if (Date.now() > deadline) throw new Error(`${child.name} did not write ${path} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls `url` until it answers 200. */
export async function waitForHealth(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.done) throw new Error(`${child.name} exited before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** Sends `signal`, and SIGKILL to the whole process group if it has not exited after `graceMs`. */
export async function stopChild(
  child: Child,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<number | string> {
  if (!child.done) child.process.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      console.error(`[${child.name}] did not stop in ${graceMs} ms: SIGKILL`);
      killGroup(child);
      resolve();
    }, graceMs);
  });
  await Promise.race([child.exited, killed]);
  clearTimeout(timer);
  killGroup(child); // nginx workers, or anything else left in the group
  return child.exited;
}

/** SIGKILL to the child's process group (nothing if it is gone). */
export function killGroup(child: Child): void {
  try {
    if (child.process.pid !== undefined) process.kill(-child.process.pid, 'SIGKILL');
  } catch {
    // the group is gone
  }
}

/**
 * Starts nginx (`bin`) from `configFile` with its files under `runtimeDir`, in the foreground, and
 * waits until it serves `healthUrl`. Until nginx has bound its port (it then writes `pidFile`), a 200
 * from that port may come from another program: nginx then stops with "Address already in use", and
 * so does the caller.
 */
export async function startNginx(
  group: ChildGroup,
  bin: string,
  files: { configFile: string; runtimeDir: string; pidFile: string },
  healthUrl: string,
): Promise<Child> {
  const { configFile, runtimeDir, pidFile } = files;
  const nginx = group.start('nginx', bin, [
    '-c',
    configFile,
    '-p',
    runtimeDir,
    '-e',
    'stderr',
    '-g',
    'daemon off;',
  ]);
  await waitForFile(nginx, pidFile);
  await waitForHealth(nginx, healthUrl);
  return nginx;
}
