// The docker-compose topology without Docker: one event store server, three gateways and the
// machine's nginx in front of them, each a child process of this script (own process group, so a
// terminal's Ctrl-C reaches only this script, which then stops nginx, the gateways and the store in
// that order). nginx runs unprivileged from a private directory: it never touches /etc/nginx. It is
// looked up (--nginx, NGINX_BIN, else PATH and the sbin directories) before anything starts.

import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildGroup, startNginx, stopChild, waitForLine } from '../shared/child-processes.ts';
import { findExecutable, notFoundMessage, SBIN_DIRS } from '../shared/executables.ts';
import { flagParser } from '../shared/flags.ts';
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

// A gateway may die: nginx routes around it. Without the store or nginx nothing works.
const group = new ChildGroup(root, (child) => {
  if (!child.name.startsWith('gateway')) void shutdown(1);
});

const flags = flagParser(USAGE);

let cleanup: () => Promise<void> = async () => {};

async function shutdown(code: number): Promise<void> {
  if (group.stopping) return;
  group.stopping = true;
  // A child that died earlier was reported then; the statuses below are those of this stop.
  const byKind = (prefix: string) => group.running(prefix);
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
  const { values } = flags.parse({
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
  const nginxPort = flags.port(
    '--nginx-port',
    values['nginx-port'] ?? env.NGINX_PORT ?? String(LOCAL_TOPOLOGY.nginxPort),
    false,
  );
  const storePort = flags.port(
    '--store-port',
    values['store-port'] ?? env.STORE_PORT ?? String(LOCAL_TOPOLOGY.storePort),
    true,
  );
  const gatewayPorts = (values['gateway-ports'] ?? env.GATEWAY_PORTS ?? LOCAL_TOPOLOGY.gatewayPorts.join(','))
    .split(',')
    .map((p) => flags.port('--gateway-ports', p.trim(), true));
  const capacityText = values['stream-capacity'] ?? '1000000';
  if (!/^[1-9][0-9]{0,6}$/.test(capacityText)) flags.fail(`bad --stream-capacity ${capacityText}`);
  const token = values.token ?? env.EVENTSTORE_TOKEN;
  // Checked before anything starts: without nginx the topology cannot serve.
  const nginxCommand = values.nginx ?? env.NGINX_BIN ?? 'nginx';
  const nginxBin = findExecutable(nginxCommand, SBIN_DIRS);
  if (nginxBin === undefined) {
    console.error(`nginx not found: ${notFoundMessage(nginxCommand, SBIN_DIRS)}.\n${INSTALL_NGINX}`);
    process.exit(1);
  }
  const cli = join(root, 'dist/cli/main.js');
  if (!existsSync(cli)) flags.fail(`${cli} is missing: run \`npm run build\` first`);

  const runtimeDir = await mkdtemp(join(tmpdir(), 'lfes-gateway-topology-'));
  // nginx workers run as `nobody` when the master is root; they need to reach the temp paths.
  await chmod(runtimeDir, 0o755);
  const dataDir = values['data-dir'] ?? env.DATA_DIR ?? join(runtimeDir, 'data');
  cleanup = () => rm(runtimeDir, { recursive: true, force: true });

  const storeArgs = ['serve', '--host', '127.0.0.1', '--port', String(storePort), '--data-dir', dataDir];
  storeArgs.push('--stream-capacity', capacityText, '--log-level', 'warn');
  if (token !== undefined) storeArgs.push('--token', token);
  const store = group.start('eventstore', process.execPath, [cli, ...storeArgs]);
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
    return group.start(id, process.execPath, ['--import', 'tsx', gatewayFile], gatewayEnv);
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
  const nginxUrl = `http://127.0.0.1:${nginxPort}`;
  const nginx = await startNginx(
    group,
    nginxBin,
    { configFile, runtimeDir, pidFile: nginxPidFile(runtimeDir) },
    `${nginxUrl}/health`,
  );
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
main().catch((err: unknown) => {
  console.error(`topology failed: ${(err as Error).message}`);
  void shutdown(1);
});
