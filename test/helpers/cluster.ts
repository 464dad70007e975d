// A cluster on loopback for the cluster tests: nats-server nodes (JetStream, file storage, routes
// between them), nginx in front, and store nodes (`node dist/cli/main.js serve --cluster …`), each a child process that
// a test can kill -9 and start again on the same ports and directories. `stopAll` is the after-hook's
// safety net. Ports are picked free and bound with retries (a restart reuses its ports).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer as createTcpServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { renderNatsConfig } from '../../samples/cluster/nats-config.ts';
import { clusterNginxPidFile, renderClusterNginxConfig } from '../../samples/cluster/nginx-config.ts';
import { freePort, retryWhileAddressInUse } from './ports.ts';
import { NATS_SERVER, NGINX, systemProgram } from './system-programs.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const HOST = '127.0.0.1';
/** The stream `NatsCluster.ready` creates (and deletes) to see that JetStream places replicas on every node. */
const PROBE_STREAM = 'LFES_TEST_PROBE';
/** How much of a nats-server's output a failure message shows at most. */
const MAX_OUTPUT_CHARS = 200_000;

/** Every child started here, so the after-hook can kill whatever is left. */
const children = new Set<ChildProcess>();

/** nginx masters started here: stopped with SIGTERM (a SIGKILLed master leaves its workers running). */
const nginxMasters = new Set<ChildProcess>();

/** Stops every process this module started that still runs: SIGKILL, SIGTERM for nginx. */
export function stopAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill(nginxMasters.has(c) ? 'SIGTERM' : 'SIGKILL');
  }
}

function exitOf(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode!);
    else child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One nats-server process of the cluster. */
export class NatsNode {
  readonly name: string;
  readonly dir: string;
  clientPort = 0;
  clusterPort = 0;
  monitorPort = 0;
  child: ChildProcess | undefined;
  /** The end of the process's output. */
  output = '';
  /** How the process ended without being asked to (`kill`): exit code or signal; undefined while it runs. */
  exit: string | undefined;
  #stopping = false;

  constructor(name: string, dir: string) {
    this.name = name;
    this.dir = dir;
  }

  get url(): string {
    return `nats://${HOST}:${this.clientPort}`;
  }

  /**
   * Starts the process (the config names every node's cluster port) and waits until it serves its
   * monitoring port and, in a cluster, listens for routes: nats-server binds the route port after the
   * monitoring and client ports, and exits if that bind fails.
   */
  async start(routes: readonly string[]): Promise<void> {
    const bin = systemProgram(NATS_SERVER).path();
    await mkdir(this.dir, { recursive: true });
    const config = join(this.dir, 'nats.conf');
    await writeFile(
      config,
      renderNatsConfig({
        name: this.name,
        host: HOST,
        clientPort: this.clientPort,
        clusterPort: this.clusterPort,
        monitorPort: this.monitorPort,
        storeDir: join(this.dir, 'jetstream'),
        routes,
      }),
    );
    this.output = '';
    this.#stopping = false;
    this.exit = undefined;
    const child = spawn(bin, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => this.#record(c));
    child.stderr!.on('data', (c: Buffer) => this.#record(c));
    child.once('exit', (code, signal) => {
      if (!this.#stopping) this.exit = String(code ?? signal);
    });
    const clustered = routes.length > 1;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`nats-server ${this.name} exited: ${this.output}`);
      }
      if (/address already in use/i.test(this.output)) {
        child.kill('SIGKILL');
        throw new Error(`nats-server ${this.name}: EADDRINUSE`);
      }
      if (!clustered || this.output.includes('Listening for route connections')) {
        try {
          const r = await fetch(`http://${HOST}:${this.monitorPort}/varz`);
          if (r.ok) return;
        } catch {
          // not listening yet
        }
      }
      if (Date.now() > deadline) throw new Error(`nats-server ${this.name} did not start: ${this.output}`);
      await sleep(100);
    }
  }

  #record(chunk: Buffer): void {
    this.output += chunk.toString();
    if (this.output.length > MAX_OUTPUT_CHARS) this.output = this.output.slice(-MAX_OUTPUT_CHARS);
  }

  /** The node's state and the end of its output, for a failure message. */
  async describe(): Promise<string> {
    let meta = 'monitoring port not answering';
    try {
      const r = await fetch(`http://${HOST}:${this.monitorPort}/jsz`, { signal: AbortSignal.timeout(2_000) });
      meta = JSON.stringify(((await r.json()) as { meta_cluster?: unknown }).meta_cluster);
    } catch {
      // the failure message says so
    }
    const state = this.exit === undefined ? `running (pid ${this.child?.pid})` : `EXITED with ${this.exit}`;
    const tail = this.output.split('\n').slice(-40).join('\n');
    return `nats-server ${this.name}: ${state}; JetStream meta group: ${meta}\n${tail}`;
  }

  /** SIGKILL (or another signal) and wait for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.#stopping = true;
    child.kill(signal);
    await exitOf(child);
  }
}

/** `count` nats-server nodes forming one JetStream cluster, under `dir`. */
export class NatsCluster {
  readonly nodes: NatsNode[];

  constructor(count: number, dir: string) {
    this.nodes = Array.from(
      { length: count },
      (_, i) => new NatsNode(`n${i + 1}`, join(dir, `nats-${i + 1}`)),
    );
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  #routes(): string[] {
    return this.nodes.map((n) => `${HOST}:${n.clusterPort}`);
  }

  /**
   * Starts the nodes on new ports and waits until they form one JetStream cluster (`ready`). A cluster
   * that does not form is started again, at most twice, on new ports and empty store directories,
   * after writing why to stderr.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await retryWhileAddressInUse(async () => {
        for (const n of this.nodes) {
          await n.kill();
          n.clientPort = await freePort();
          n.clusterPort = await freePort();
          n.monitorPort = await freePort();
        }
        await Promise.all(this.nodes.map((n) => n.start(this.#routes())));
      });
      try {
        await this.ready();
        return;
      } catch (err) {
        if (attempt === 3) throw err;
        process.stderr.write(`${(err as Error).message}\nstarting the NATS cluster again\n`);
        for (const n of this.nodes) {
          await n.kill();
          await rm(join(n.dir, 'jetstream'), { recursive: true, force: true });
        }
      }
    }
  }

  /**
   * Waits until JetStream places a stream with a replica on every node (a store node's log with
   * `--replicas 3` needs that): the nodes have elected a metadata leader that knows all of them. Fails
   * with every node's state and output if a node exited or this takes longer than `timeoutMs`.
   */
  async ready(timeoutMs = 45_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const nc = await connect({ servers: this.urls, timeout: 10_000 });
    let last: unknown;
    try {
      for (;;) {
        const gone = this.nodes.filter((n) => n.exit !== undefined).map((n) => n.name);
        if (gone.length > 0) {
          throw new Error(`nats-server ${gone.join(', ')} exited:\n${await this.describe()}`);
        }
        try {
          const jsm = await jetstreamManager(nc, { timeout: 5_000 });
          await jsm.streams.add({
            name: PROBE_STREAM,
            subjects: [PROBE_STREAM.toLowerCase()],
            storage: StorageType.File,
            num_replicas: this.nodes.length,
          });
          await jsm.streams.delete(PROBE_STREAM);
          return;
        } catch (err) {
          last = err;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `the NATS nodes did not form a JetStream cluster within ${timeoutMs} ms ` +
              `(last answer: ${(last as Error).message}):\n${await this.describe()}`,
          );
        }
        await sleep(250);
      }
    } finally {
      await nc.close();
    }
  }

  /** Every node's state and the end of its output, for a failure message. */
  async describe(): Promise<string> {
    return (await Promise.all(this.nodes.map((n) => n.describe()))).join('\n\n');
  }

  /** Starts node `i` again on its ports and store directory. */
  async restart(i: number): Promise<void> {
    const n = this.nodes[i]!;
    await n.kill();
    await retryWhileAddressInUse(() => n.start(this.#routes()), { attempts: 20, delayMs: 250 });
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill('SIGTERM')));
  }
}

/**
 * A TCP proxy in front of a NATS node, for one store node's connection. `cut` closes every connection
 * and refuses new ones until `open` listens again on the same port; with `delayMs`, everything the
 * NATS node sends is delayed by that much, in order (what the store node sends goes through at once),
 * so the store node receives the log and the answers to its requests late, like one on a slow link.
 */
export class NatsProxy {
  readonly #target: { host: string; port: number };
  readonly #delayMs: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor(targetUrl: string, options: { delayMs?: number } = {}) {
    const u = new URL(targetUrl);
    this.#target = { host: u.hostname, port: Number(u.port) };
    this.#delayMs = options.delayMs ?? 0;
  }

  /** The URL a store node connects to. */
  get url(): string {
    return `nats://${HOST}:${this.port}`;
  }

  async open(): Promise<void> {
    const delayMs = this.#delayMs;
    const server = createTcpServer((client) => {
      const upstream = tcpConnect(this.#target.port, this.#target.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      if (delayMs === 0) upstream.pipe(client);
      else {
        // Timers of one duration fire in the order they were set: the bytes keep their order.
        upstream.on('data', (c: Buffer) => setTimeout(() => client.write(c), delayMs));
        upstream.on('close', () => setTimeout(() => client.destroy(), delayMs));
      }
    });
    await new Promise<void>((resolve) => server.listen(this.port, HOST, resolve));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Closes every connection and stops listening (`open` listens again on the same port). */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  }
}

/** One store node: `lockfree-eventstore serve --cluster …` on a fixed port and data directory. */
export class StoreNode {
  readonly id: string;
  readonly dataDir: string;
  port = 0;
  servers: readonly string[];
  readonly args: readonly string[];
  child: ChildProcess | undefined;
  output = '';

  constructor(id: string, dataDir: string, servers: readonly string[], args: readonly string[] = []) {
    this.id = id;
    this.dataDir = dataDir;
    this.servers = servers;
    this.args = args;
  }

  get url(): string {
    return `http://${HOST}:${this.port}`;
  }

  /** Starts the process and waits for its listening line (it listens once caught up with the log). */
  async start(): Promise<void> {
    await retryWhileAddressInUse(
      async () => {
        if (this.port === 0) this.port = await freePort();
        await this.#spawn();
      },
      { attempts: 20, delayMs: 250 },
    );
  }

  async #spawn(): Promise<void> {
    const env = { ...process.env };
    delete env.LFES_TOKEN;
    delete env.LOCKFREE_EVENTSTORE_TOKEN;
    const child = spawn(
      process.execPath,
      [
        'dist/cli/main.js',
        'serve',
        ...['--port', String(this.port), '--data-dir', this.dataDir, '--log-level', 'warn'],
        ...['--cluster', this.servers.join(','), '--node-id', this.id],
        ...this.args,
      ],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(child);
    this.child = child;
    this.output = '';
    child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`store ${this.id} did not start: ${this.output}`)),
        60_000,
      );
      child.stderr!.on('data', (c: Buffer) => {
        this.output += c.toString();
        if (/listening on http/.test(this.output)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`store ${this.id} exited with ${code ?? signal}: ${this.output}`));
      });
    });
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | string | undefined> {
    const child = this.child;
    if (child === undefined) return undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exitOf(child);
  }
}

/** GET `url` as JSON, with its status and headers. */
export async function getJson<T = Record<string, unknown>>(
  url: string,
): Promise<{ status: number; headers: Headers; body: T }> {
  const r = await fetch(url);
  const text = await r.text();
  return { status: r.status, headers: r.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** What GET /cluster/digest answers. */
export interface NodeDigest {
  position: number;
  streams: Record<string, string>;
}

/**
 * Waits until every node answers /cluster/digest at the same log position, and returns the digests
 * (by node), failing after `timeoutMs`.
 */
export async function convergedDigests(urls: readonly string[], timeoutMs = 30_000): Promise<NodeDigest[]> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const all = await Promise.all(urls.map((u) => getJson<NodeDigest>(`${u}/cluster/digest`)));
      last = all.map((a) => a.body);
      if (all.every((a) => a.status === 200 && a.body.position === all[0]!.body.position)) {
        return all.map((a) => a.body);
      }
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`the nodes did not converge: ${JSON.stringify(last)}`);
    await sleep(200);
  }
}

/** The machine's nginx in front of `stores` on a free port, from a private runtime directory. */
export async function startNginx(
  stores: readonly StoreNode[],
  dir: string,
): Promise<{ url: string; child: ChildProcess }> {
  const bin = systemProgram(NGINX).path();
  const runtimeDir = join(dir, 'nginx');
  await mkdir(runtimeDir, { recursive: true });
  // nginx's workers run as `nobody` when the master is root: they write request bodies that do not
  // fit in memory under the runtime directory, so it and its parent must be reachable.
  await chmod(dir, 0o755);
  await chmod(runtimeDir, 0o755);
  return retryWhileAddressInUse(async () => {
    const port = await freePort();
    const config = join(runtimeDir, 'nginx.conf');
    await writeFile(
      config,
      renderClusterNginxConfig({
        listen: `${HOST}:${port}`,
        stores: stores.map((s) => `${HOST}:${s.port}`),
        runtimeDir,
      }),
    );
    await rm(clusterNginxPidFile(runtimeDir), { force: true });
    const child = spawn(bin, ['-p', runtimeDir, '-c', config, '-e', 'stderr', '-g', 'daemon off;'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    nginxMasters.add(child);
    let output = '';
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${output}`);
      if (existsSync(clusterNginxPidFile(runtimeDir))) return { url: `http://${HOST}:${port}`, child };
      if (Date.now() > deadline) throw new Error(`nginx did not start: ${output}`);
      await sleep(50);
    }
  });
}
