// The docker-compose cluster topology without Docker: three nats-server nodes (one JetStream cluster,
// the log replicated `--replicas` times), three store nodes (`serve --cluster`) and the machine's nginx
// in front of them, each a child process of this script in its own process group. Ctrl-C (or SIGTERM)
// stops nginx, then the store nodes (final checkpoints), then NATS. nats-server and nginx are looked up
// before anything starts; both run unprivileged from a private directory. A store node or a NATS node
// may die (kill one to watch the others go on); only nginx's exit stops the script.

import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildGroup, startNginx, stopChild, waitForHealth, waitForLine } from '../shared/child-processes.ts';
import { findExecutable, notFoundMessage, SBIN_DIRS } from '../shared/executables.ts';
import { flagParser } from '../shared/flags.ts';
import { LOCAL_CLUSTER_TOPOLOGY, renderNatsConfig } from './nats-config.ts';
import { clusterNginxPidFile, renderClusterNginxConfig } from './nginx-config.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const HOST = '127.0.0.1';
const {
  nginxPort: DEFAULT_NGINX_PORT,
  storePorts: DEFAULT_STORE_PORTS,
  natsPorts: DEFAULT_NATS_PORTS,
} = LOCAL_CLUSTER_TOPOLOGY;
const { routeOffset: ROUTE_OFFSET, monitorOffset: MONITOR_OFFSET } = LOCAL_CLUSTER_TOPOLOGY;

const USAGE = `Usage: npm run sample:cluster -- [options]   (or: node --import tsx samples/cluster/start-topology.ts)
  --nginx-port <n>        nginx, the entry point (default ${DEFAULT_NGINX_PORT})
  --store-ports <list>    one store node per port (default ${DEFAULT_STORE_PORTS.join(',')})
  --nats-ports <list>     client port of each NATS node; its route port is +${ROUTE_OFFSET}, its monitoring port
                          +${MONITOR_OFFSET} (default ${DEFAULT_NATS_PORTS.join(',')})
  --replicas <n>          copies of the log, 1-3 (default 3)
  --data-dir <dir>        where the NATS nodes and store nodes keep their files, kept (default a temp dir, removed)
  --nginx <path>          the nginx binary (env NGINX_BIN, default nginx on PATH or in ${SBIN_DIRS.join(', ')})
  --nats-server <path>    the nats-server binary (env NATS_SERVER_BIN, default nats-server on PATH or in the same places)`;

const INSTALL = {
  nginx: `Install nginx (Debian/Ubuntu: sudo apt-get install -y nginx; Fedora: sudo dnf install nginx;
macOS: brew install nginx), or pass its path with --nginx <path> (env NGINX_BIN).`,
  'nats-server': `Install nats-server (Debian/Ubuntu: sudo apt-get install -y nats-server; macOS: brew install nats-server;
or a release from https://github.com/nats-io/nats-server/releases), or pass its path with --nats-server <path>
(env NATS_SERVER_BIN).`,
};

const flags = flagParser(USAGE);

// A store node or a NATS node may die: the cluster goes on without it. Without nginx nothing is served.
const group = new ChildGroup(root, (child) => {
  if (child.name === 'nginx') void shutdown(1);
});

let cleanup: () => Promise<void> = async () => {};
let natsFormed = false;

async function shutdown(code: number): Promise<void> {
  if (group.stopping) return;
  group.stopping = true;
  // nginx first (no new traffic), then the store nodes (each saves a checkpoint), then the log.
  // SIGQUIT is nginx's graceful shutdown.
  const results = [
    ...(await Promise.all(group.running('nginx').map((c) => stopChild(c, 'SIGQUIT', 10_000)))),
    ...(await Promise.all(group.running('store').map((c) => stopChild(c, 'SIGTERM', 20_000)))),
    // SIGINT: nats-server's clean stop (exit 0; it exits 1 on SIGTERM).
    ...(await Promise.all(group.running('nats').map((c) => stopChild(c, 'SIGINT', 10_000)))),
  ];
  await cleanup();
  const clean = results.every((r) => r === 0);
  console.log(`topology stopped${clean ? '' : ` (exit statuses: ${results.join(', ')})`}`);
  process.exit(code);
}

function portList(name: string, text: string): number[] {
  const ports = text.split(',').map((p) => flags.port(name, p.trim(), false));
  if (ports.length !== 3) flags.fail(`${name} takes 3 ports, not ${ports.length}`);
  return ports;
}

function program(command: string, kind: keyof typeof INSTALL): string {
  const path = findExecutable(command, SBIN_DIRS);
  if (path === undefined) {
    console.error(`${kind} not found: ${notFoundMessage(command, SBIN_DIRS)}.\n${INSTALL[kind]}`);
    process.exit(1);
  }
  return path;
}

async function main(): Promise<void> {
  const { values } = flags.parse({
    'nginx-port': { type: 'string' },
    'store-ports': { type: 'string' },
    'nats-ports': { type: 'string' },
    replicas: { type: 'string' },
    'data-dir': { type: 'string' },
    nginx: { type: 'string' },
    'nats-server': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  const nginxPort = flags.port('--nginx-port', values['nginx-port'] ?? String(DEFAULT_NGINX_PORT), false);
  const storePorts = portList('--store-ports', values['store-ports'] ?? DEFAULT_STORE_PORTS.join(','));
  const natsPorts = portList('--nats-ports', values['nats-ports'] ?? DEFAULT_NATS_PORTS.join(','));
  if (natsPorts.some((p) => p + MONITOR_OFFSET > 65_535))
    flags.fail('--nats-ports: each must be at most 63535');
  const replicas = values.replicas ?? '3';
  if (!/^[123]$/.test(replicas)) flags.fail(`bad --replicas ${JSON.stringify(replicas)}: 1, 2 or 3`);
  // Checked before anything starts.
  const natsBin = program(values['nats-server'] ?? env.NATS_SERVER_BIN ?? 'nats-server', 'nats-server');
  const nginxBin = program(values.nginx ?? env.NGINX_BIN ?? 'nginx', 'nginx');
  const cli = join(root, 'dist/cli/main.js');
  if (!existsSync(cli)) flags.fail(`${cli} is missing: run \`npm run build\` first`);

  const runtimeDir = await mkdtemp(join(tmpdir(), 'lfes-cluster-topology-'));
  // nginx workers run as `nobody` when the master is root; they need to reach the temp paths.
  await chmod(runtimeDir, 0o755);
  const dataDir = values['data-dir'] ?? join(runtimeDir, 'data');
  cleanup = () => rm(runtimeDir, { recursive: true, force: true });

  const routes = natsPorts.map((p) => `${HOST}:${p + ROUTE_OFFSET}`);
  const nats = await Promise.all(
    natsPorts.map(async (port, i) => {
      const name = `nats-${i + 1}`;
      const dir = join(dataDir, name);
      await mkdir(dir, { recursive: true });
      const config = join(runtimeDir, `${name}.conf`);
      await writeFile(
        config,
        renderNatsConfig({
          name,
          host: HOST,
          clientPort: port,
          clusterPort: port + ROUTE_OFFSET,
          monitorPort: port + MONITOR_OFFSET,
          storeDir: dir,
          routes,
        }),
      );
      // Only NATS's errors, and only once the nodes have formed the cluster (until then they report
      // the routes and leaders they are still waiting for); a fatal error always.
      return group.start(
        name,
        natsBin,
        ['-c', config],
        {},
        (line) => line.includes('[FTL]') || (natsFormed && line.includes('[ERR]')),
      );
    }),
  );
  await Promise.all(
    nats.map((n, i) => waitForHealth(n, `http://${HOST}:${natsPorts[i]! + MONITOR_OFFSET}/healthz`)),
  );
  natsFormed = true;
  const natsUrls = natsPorts.map((p) => `nats://${HOST}:${p}`);
  for (const [i, n] of nats.entries()) console.log(`${n.name}      ${natsUrls[i]}  pid ${n.process.pid}`);

  // Every node names every NATS node; the first to reach the log creates it with `replicas` copies.
  const stores = storePorts.map((port, i) => {
    const id = `store-${i + 1}`;
    const args = ['serve', '--host', HOST, '--port', String(port), '--data-dir', join(dataDir, id)];
    args.push(
      '--node-id',
      id,
      '--cluster',
      natsUrls.join(','),
      '--replicas',
      replicas,
      '--log-level',
      'warn',
    );
    return group.start(id, process.execPath, [cli, ...args]);
  });
  const storeUrls = await Promise.all(
    stores.map((s) => waitForLine(s, /listening on (http:\/\/\S+)/, 60_000)),
  );
  for (const [i, s] of stores.entries()) console.log(`${s.name}     ${storeUrls[i]}  pid ${s.process.pid}`);

  const configFile = join(runtimeDir, 'nginx.conf');
  await writeFile(
    configFile,
    renderClusterNginxConfig({
      listen: `${HOST}:${nginxPort}`,
      stores: storeUrls.map((u) => new URL(u).host),
      runtimeDir,
    }),
  );
  const nginxUrl = `http://${HOST}:${nginxPort}`;
  const nginx = await startNginx(
    group,
    nginxBin,
    { configFile, runtimeDir, pidFile: clusterNginxPidFile(runtimeDir) },
    `${nginxUrl}/health`,
  );
  console.log(`nginx       ${nginxUrl}  pid ${nginx.process.pid}  config ${configFile}`);
  console.log(`
ready: curl -s -X POST ${nginxUrl}/streams/orders -H 'content-type: application/json' -d '{"valor":120}'
       curl -s '${storeUrls[1]}/streams/orders?from=0'     (any node reads what any node wrote)
       curl -s ${storeUrls[2]}/cluster
       kill -9 <a store or NATS pid above>: writes and reads through nginx go on
Ctrl-C (or SIGTERM) stops everything.`);
}

// One Ctrl-C arrives twice under `npm run` (from the terminal and relayed by npm): shutdown runs once.
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch((err: unknown) => {
  console.error(`topology failed: ${(err as Error).message}`);
  void shutdown(1);
});
