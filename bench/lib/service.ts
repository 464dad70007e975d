// Helpers for the service benchmarks: every process they measure runs on its own (the event store
// server, a reference HTTP server, redis-server, and wrk / redis-benchmark as load generators), on
// loopback, and is stopped at the end. Nothing here is timed itself.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRate } from './markdown.ts';
import { type Row, rmePct } from './run-tinybench.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HOST = '127.0.0.1';

/** True when `cmd` is on the PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A child process started by a benchmark; `stop()` sends SIGTERM (then SIGKILL) and waits for it. */
export interface Proc {
  child: ChildProcess;
  /** The first match of the readiness pattern in the child's output. */
  match: RegExpMatchArray;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/** Spawns `cmd args` and resolves once a line of its stdout/stderr matches `ready`. */
export function startProcess(
  cmd: string,
  args: readonly string[],
  ready: RegExp,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Proc> {
  const child = spawn(cmd, args, {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${cmd} not ready after ${options.timeoutMs ?? 20_000} ms:\n${output}`));
    }, options.timeoutMs ?? 20_000);
    const onData = (chunk: Buffer): void => {
      if (output.length < 64_000) output += chunk.toString();
      const m = output.match(ready);
      if (m !== null) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve({ child, match: m, stop });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
}

/** The environment without a token (`LFES_TOKEN`, or its older name), so the server under test asks for none. */
function withoutToken(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.LFES_TOKEN;
  delete env.LOCKFREE_EVENTSTORE_TOKEN;
  return env;
}

/** Newest modification time (ms) of the files under `dir`, recursively. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * How the event store server is started: the built `dist/cli/main.js` (what `npm start` runs) when it
 * is at least as new as every file under src/, else `src/cli/main.ts` through tsx (whose per-function
 * name helpers cost a few per cent on the request path).
 */
export function serverEntry(): { args: string[]; label: string } {
  const dist = join(REPO_ROOT, 'dist', 'cli', 'main.js');
  if (existsSync(dist) && statSync(dist).mtimeMs >= newestMtime(join(REPO_ROOT, 'src'))) {
    return { args: ['dist/cli/main.js'], label: 'node dist/cli/main.js serve' };
  }
  return { args: ['--import', 'tsx', 'src/cli/main.ts'], label: 'node --import tsx src/cli/main.ts serve' };
}

/** The event store service (`src/cli/main.ts serve`) on a free port with a fresh data directory. */
export async function startEventStore(
  extraArgs: readonly string[] = [],
): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lfes-bench-server-'));
  const proc = await startProcess(
    process.execPath,
    [
      ...serverEntry().args,
      'serve',
      '--port',
      '0',
      '--host',
      HOST,
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    /listening on (http:\/\/[^\s]+)/,
    { env: withoutToken() },
  );
  const url = proc.match[1]!.replace(/\/$/, '');
  return {
    url,
    port: Number(new URL(url).port),
    async stop() {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A harness server of bench/server/http-harness.ts (`hello`, `node`, `fastify`) on a free port. */
export async function startHarness(
  mode: 'hello' | 'node' | 'fastify',
): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'bench/server/http-harness.ts', mode],
    /harness listening on (http:\/\/[^\s]+)/,
  );
  return { url: proc.match[1]!, stop: proc.stop };
}

/** redis-server on a free loopback port, no persistence. */
export async function startRedis(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lfes-bench-redis-'));
  const proc = await startProcess(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
    ],
    /Ready to accept connections/,
  );
  return {
    port,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What one wrk run measured. */
export interface WrkResult {
  requests: number;
  durationS: number;
  /** Socket errors plus non-2xx/3xx replies. */
  errors: number;
  p50Us: number;
  p99Us: number;
}

const WRK_DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"errors\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

/** Runs wrk against `url` with the Lua `script` (plus a `done` that reports JSON), in a child process. */
export async function wrk(
  url: string,
  script: string,
  options: { threads?: number; connections?: number; durationS: number },
): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lfes-bench-wrk-'));
  const file = join(dir, 'script.lua');
  writeFileSync(file, `${script}\n${WRK_DONE}`);
  try {
    const args = [
      `-t${options.threads ?? 1}`,
      `-c${options.connections ?? 50}`,
      `-d${options.durationS}s`,
      '--timeout',
      '10s',
      '-s',
      file,
      url,
    ];
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        text += c.toString();
      });
      child.once('error', reject);
      child.once('exit', (code) => {
        running.delete(child);
        if (code === 0) resolve(text);
        else reject(new Error(`wrk exited ${code}:\n${text}`));
      });
    });
    const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
    if (line === undefined) throw new Error(`wrk printed no summary:\n${out}`);
    const j = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>;
    return {
      requests: j.requests!,
      durationS: j.duration_us! / 1e6,
      errors: j.errors!,
      p50Us: j.p50_us!,
      p99Us: j.p99_us!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Pools wrk rounds of one peer: the total rate (× `opsPerRequest`), and the 95 % margin of the per-round rates. */
export function pooledRow(name: string, runs: readonly WrkResult[], opsPerRequest = 1): Row {
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const seconds = runs.reduce((a, r) => a + r.durationS, 0);
  const rate = (requests * opsPerRequest) / seconds;
  return {
    name,
    opsPerSec: rate,
    medianNs: 1e9 / rate,
    rmePct: rmePct(runs.map((r) => r.requests / r.durationS)),
    samples: requests,
  };
}

/**
 * One timed wrk round: prints its rate (in `unit`s of requests per second) and latency, and refuses a
 * round with failed requests (a fast error is not a fast append).
 */
export async function wrkRound(
  label: string,
  url: string,
  script: string,
  options: { connections: number; durationS: number; unit: string },
): Promise<WrkResult> {
  const r = await wrk(url, script, { connections: options.connections, durationS: options.durationS });
  console.log(
    `  ${label}: ${formatRate(r.requests / r.durationS)} ${options.unit}/s, p50 ${(r.p50Us / 1000).toFixed(2)} ms, ` +
      `p99 ${(r.p99Us / 1000).toFixed(2)} ms${r.errors > 0 ? `, ${r.errors} errors` : ''}`,
  );
  if (r.errors > r.requests * 0.001)
    throw new Error(`${label}: ${r.errors} of ${r.requests} requests failed`);
  return r;
}

/** Lua for wrk: every request is `method path` with this body (static, so wrk spends least CPU). */
export function staticRequestScript(method: string, path: string, body?: string): string {
  const lines = [`wrk.method = "${method}"`, `wrk.path = "${path}"`];
  if (body !== undefined) {
    lines.push(`wrk.body = ${JSON.stringify(body)}`);
    lines.push('wrk.headers["Content-Type"] = "application/json"');
  }
  return lines.join('\n');
}

/** Runs redis-benchmark with `args` (add `--csv`) and returns the requests per second it reports. */
export function redisBenchmark(port: number, args: readonly string[]): number {
  const r = spawnSync('redis-benchmark', ['-h', HOST, '-p', String(port), '--csv', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`redis-benchmark failed (${r.status}): ${r.stderr}`);
  // "test","rps","avg_latency_ms",... then one line per test.
  const data = r.stdout
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('"test"'));
  const last = data[data.length - 1];
  const rps = last === undefined ? Number.NaN : Number(last.split(',')[1]?.replace(/"/g, ''));
  if (!Number.isFinite(rps)) throw new Error(`redis-benchmark: no rate in ${r.stdout}`);
  return rps;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/** One HTTP request on a keep-alive connection (JSON content type for a body, unless `headers` are given); resolves with the status and the body text. */
export function httpCall(
  url: string,
  method = 'GET',
  body?: string,
  headers?: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent,
        headers: headers ?? (body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Closes the keep-alive connections of {@link httpCall}. */
export function closeHttp(): void {
  agent.destroy();
}
