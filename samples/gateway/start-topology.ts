// The docker-compose topology without Docker: one event store server, three gateways and the
// machine's nginx in front of them, each a child process of this script (own process group, so a
// terminal's Ctrl-C reaches only this script, which then stops nginx, the gateways and the store in
// that order). nginx runs unprivileged from a private directory: it never touches /etc/nginx. It is
// looked up (--nginx, NGINX_BIN, else PATH and the sbin directories) before anything starts.

import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { findExecutable, notFoundMessage, SBIN_DIRS } from '../shared/executables.ts';
import { LOCAL_TOPOLOGY, nginxPidFile, renderNginxConfig } from './nginx-config.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

const USAGE = `Usage: npm run sample:gateway -- [options]   (or: node --import tsx samples/gateway/start-topology.ts)
  --nginx-port <n>        nginx, the entry point (env NGINX_PORT, default ${LOCAL_TOPOLOGY.nginxPort})
  --store-port <n>        event store server, 0 = any free port (env STORE_PORT, default ${LOCAL_TOPOLOGY.storePort})
  --gateway-ports <list>  one gateway per port, 0 = any free port (env GATEWAY_PORTS, default ${LOCAL_TOPOLOGY.gatewayPorts.join(',')})
  --data-dir <dir>        the store's data directory, kept (env DATA_DIR, default a temp dir, removed)
  --stream-capacity <n>   orders the stream holds (default 1000000)
  --token <secret>        protect the store with a bearer token (env EVENTSTORE_TOKEN)
  --nginx <path>          the nginx binary (env NGINX_BIN, default nginx on PATH or in ${SBIN_DIRS.join(', ')})`;

/** How to get nginx, for the message when it is missing. */
const INSTALL_NGINX = `Install nginx (Debian/Ubuntu: sudo apt-get install -y nginx; Fedora: sudo dnf install nginx;
macOS: brew install nginx), or pass its path with --nginx <path> (env NGINX_BIN).`;

interface Child {
  name: string;
  process: ChildProcess;
  /** The child's stdout, line by line. */
  /** Emits 'line' for every line of the child's stdout and stderr. */
  lines: EventEmitter;
  exited: Promise<number | string>;
  done: boolean;
}

const children: Child[] = [];
let stopping = false;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

/** parseArgs with a usage error (exit 2) instead of an exception for an unknown or malformed flag. */
function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(options: T) {
  try {
    return parseArgs({ options, strict: true });
  } catch (err) {
    fail((err as Error).message);
  }
}

function portArg(name: string, text: string, allowZero: boolean): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n <= 65_535 && (n > 0 || (allowZero && n === 0)))) fail(`bad ${name} ${JSON.stringify(text)}`);
  return n;
}

/** Spawns a child in its own process group, prefixing its output with its name. */
function start(name: string, command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // Lines of both outputs (the store writes its JSON log to stdout and its banner to stderr).
  const lines = new EventEmitter();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    console.log(`[${name}] ${line}`);
    lines.emit('line', line);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    console.error(`[${name}] ${line}`);
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
    if (stopping) return;
    console.error(`[${name}] exited (${status})`);
    // A gateway may die: nginx routes around it. Without the store or nginx nothing works.
    if (!name.startsWith('gateway')) void shutdown(1);
  });
  children.push(entry);
  return entry;
}

/** Resolves with the first match of `pattern` in the child's output; rejects if it exits first. */
function waitForLine(child: Child, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
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
      resolve(m[1]!);
    };
    child.lines.on('line', onLine);
    void child.exited.then((status) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${status}) before it was ready`));
    });
  });
}

/** Polls until `path` exists. */
async function waitForFile(child: Child, path: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (child.done) throw new Error(`${child.name} exited before it was ready`);
    if (Date.now() > deadline) throw new Error(`${child.name} did not write ${path} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Polls `url` until it answers 200. */
async function waitForHealth(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
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
async function stopChild(child: Child, signal: NodeJS.Signals, graceMs: number): Promise<number | string> {
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

function killGroup(child: Child): void {
  try {
    if (child.process.pid !== undefined) process.kill(-child.process.pid, 'SIGKILL');
  } catch {
    // the group is gone
  }
}

let cleanup: () => Promise<void> = async () => {};

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // A child that died earlier was reported then; the statuses below are those of this stop.
  const byKind = (prefix: string) => children.filter((c) => c.name.startsWith(prefix) && !c.done);
  // nginx first (no new traffic), then the gateways (finish in-flight orders), then the store
  // (final snapshot). SIGQUIT is nginx's graceful shutdown.
  const results = [
    ...(await Promise.all(byKind('nginx').map((c) => stopChild(c, 'SIGQUIT', 10_000)))),
    ...(await Promise.all(byKind('gateway').map((c) => stopChild(c, 'SIGTERM', 15_000)))),
    ...(await Promise.all(byKind('eventstore').map((c) => stopChild(c, 'SIGTERM', 20_000)))),
  ];
  await cleanup();
  const clean = results.every((r) => r === 0);
  console.log(`topology stopped${clean ? '' : ` (exit statuses: ${results.join(', ')})`}`);
  process.exit(code);
}

async function main(): Promise<void> {
  const { values } = parseFlags({
    'nginx-port': { type: 'string' },
    'store-port': { type: 'string' },
    'gateway-ports': { type: 'string' },
    'data-dir': { type: 'string' },
    'stream-capacity': { type: 'string' },
    token: { type: 'string' },
    nginx: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  const nginxPort = portArg(
    '--nginx-port',
    values['nginx-port'] ?? env.NGINX_PORT ?? String(LOCAL_TOPOLOGY.nginxPort),
    false,
  );
  const storePort = portArg(
    '--store-port',
    values['store-port'] ?? env.STORE_PORT ?? String(LOCAL_TOPOLOGY.storePort),
    true,
  );
  const gatewayPorts = (values['gateway-ports'] ?? env.GATEWAY_PORTS ?? LOCAL_TOPOLOGY.gatewayPorts.join(','))
    .split(',')
    .map((p) => portArg('--gateway-ports', p.trim(), true));
  const capacityText = values['stream-capacity'] ?? '1000000';
  if (!/^[1-9][0-9]{0,6}$/.test(capacityText)) fail(`bad --stream-capacity ${capacityText}`);
  const token = values.token ?? env.EVENTSTORE_TOKEN;
  // Checked before anything starts: without nginx the topology cannot serve.
  const nginxCommand = values.nginx ?? env.NGINX_BIN ?? 'nginx';
  const nginxBin = findExecutable(nginxCommand, SBIN_DIRS);
  if (nginxBin === undefined) {
    console.error(`nginx not found: ${notFoundMessage(nginxCommand, SBIN_DIRS)}.\n${INSTALL_NGINX}`);
    process.exit(1);
  }
  const cli = join(root, 'dist/cli/main.js');
  if (!existsSync(cli)) fail(`${cli} is missing: run \`npm run build\` first`);

  const runtimeDir = await mkdtemp(join(tmpdir(), 'lfes-gateway-topology-'));
  // nginx workers run as `nobody` when the master is root; they need to reach the temp paths.
  await chmod(runtimeDir, 0o755);
  const dataDir = values['data-dir'] ?? env.DATA_DIR ?? join(runtimeDir, 'data');
  cleanup = () => rm(runtimeDir, { recursive: true, force: true });

  const storeArgs = ['serve', '--host', '127.0.0.1', '--port', String(storePort), '--data-dir', dataDir];
  storeArgs.push('--stream-capacity', capacityText, '--log-level', 'warn');
  if (token !== undefined) storeArgs.push('--token', token);
  const store = start('eventstore', process.execPath, [cli, ...storeArgs]);
  const storeUrl = await waitForLine(store, /listening on (http:\/\/\S+)/);
  console.log(`eventstore  ${storeUrl}  pid ${store.process.pid}  data ${dataDir}`);

  const gatewayFile = fileURLToPath(new URL('./main.ts', import.meta.url));
  const gateways = gatewayPorts.map((port, i) => {
    const id = `gateway${i + 1}`;
    const gatewayEnv: Record<string, string> = {
      GATEWAY_ID: id,
      PORT: String(port),
      HOST: '127.0.0.1',
      EVENTSTORE_URL: storeUrl,
    };
    if (token !== undefined) gatewayEnv.EVENTSTORE_TOKEN = token;
    return start(id, process.execPath, ['--import', 'tsx', gatewayFile], gatewayEnv);
  });
  const gatewayUrls = await Promise.all(gateways.map((g) => waitForLine(g, /listening on (http:\/\/\S+)/)));
  for (const [i, g] of gateways.entries())
    console.log(`${g.name}    ${gatewayUrls[i]}  pid ${g.process.pid}`);

  const config = renderNginxConfig({
    listen: `127.0.0.1:${nginxPort}`,
    gateways: gatewayUrls.map((u) => new URL(u).host),
    runtimeDir,
  });
  const configFile = join(runtimeDir, 'nginx.conf');
  await writeFile(configFile, config);
  const nginx = start('nginx', nginxBin, [
    '-c',
    configFile,
    '-p',
    runtimeDir,
    '-e',
    'stderr',
    '-g',
    'daemon off;',
  ]);
  const nginxUrl = `http://127.0.0.1:${nginxPort}`;
  // Until nginx has bound its port (it then writes its pid file), a 200 from that port may come from
  // another program: nginx then stops with "Address already in use", and so does this script.
  await waitForFile(nginx, nginxPidFile(runtimeDir));
  await waitForHealth(nginx, `${nginxUrl}/health`);
  console.log(`nginx       ${nginxUrl}  pid ${nginx.process.pid}  config ${configFile}`);
  console.log(`
ready: curl -s -X POST ${nginxUrl}/orders -d '{"valor":120}'
       curl -s -X POST '${nginxUrl}/orders/bulk?n=1000'
       curl -s ${nginxUrl}/stats/global
Ctrl-C (or SIGTERM) stops everything.`);
}

// One Ctrl-C arrives twice under `npm run` (from the terminal and relayed by npm): shutdown runs once.
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
// Last resort on a crash of this script: no orphan keeps a port.
process.on('exit', () => {
  for (const c of children) if (!c.done) killGroup(c);
});
main().catch((err: unknown) => {
  console.error(`topology failed: ${(err as Error).message}`);
  void shutdown(1);
});
