// The nats-server configuration of one node of the cluster topology, rendered from one template for
// both deployments: the files docker-compose.yml mounts (nats-1.conf …, rendered by `npx tsx
// samples/cluster/nats-config.ts`) and the configs start-topology.ts and the tests write for the
// machine's nats-server (loopback ports, a private store directory). JetStream is on, with file
// storage; the nodes form one NATS cluster through their routes, and JetStream replicates the log
// over them (Raft), so it survives the loss of a minority of them.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface NatsNodeConfig {
  /** The node's server name (unique in the cluster; JetStream's Raft peers are named by it). */
  name: string;
  /** Interface the client, route and monitoring ports bind. */
  host: string;
  clientPort: number;
  clusterPort: number;
  /** HTTP monitoring port (`/healthz`); none when undefined. */
  monitorPort?: number | undefined;
  /** Where JetStream keeps the log's files. */
  storeDir: string;
  /**
   * `host:port` of every node's cluster port (its own may be listed: nats-server skips it); one or
   * none: a standalone server.
   */
  routes: readonly string[];
}

/**
 * The largest message NATS takes: an append of the server's largest body (8 MiB) plus its envelope.
 * nats-server warns above 8 MB but accepts up to 64 MB.
 */
export const MAX_PAYLOAD_BYTES = 9 * 1024 * 1024;

/** The cluster's name (every node of one JetStream cluster shares it). */
export const CLUSTER_NAME = 'lfes';

export function renderNatsConfig(c: NatsNodeConfig): string {
  const routes = c.routes.map((r) => `    nats-route://${r}`).join('\n');
  // A single node is not a NATS cluster: JetStream then runs standalone (replicas 1).
  const cluster =
    c.routes.length <= 1
      ? ''
      : `
cluster {
  name: ${CLUSTER_NAME}
  listen: "${c.host}:${c.clusterPort}"
  routes: [
${routes}
  ]
}
`;
  const monitor = c.monitorPort === undefined ? '' : `http: "${c.host}:${c.monitorPort}"\n`;
  return `# nats-server node ${c.name} of the lockfree-eventstore cluster (rendered by samples/cluster/nats-config.ts).
server_name: ${c.name}
listen: "${c.host}:${c.clientPort}"
${monitor}max_payload: ${MAX_PAYLOAD_BYTES}

jetstream {
  store_dir: ${JSON.stringify(c.storeDir)}
  max_memory_store: 64MB
  max_file_store: 8GB
}
${cluster}`;
}

/**
 * The default ports of `npm run sample:cluster` (start-topology.ts) on one machine: nginx, the store
 * nodes, and each NATS node's client port (its route port is that plus `routeOffset`, its monitoring
 * port plus `monitorOffset`). Apart from `npm start` and the other samples, and from NATS's own 4222.
 */
export const LOCAL_CLUSTER_TOPOLOGY = {
  nginxPort: 7180,
  storePorts: [7181, 7182, 7183],
  natsPorts: [14222, 14223, 14224],
  routeOffset: 1000,
  monitorOffset: 2000,
} as const;

/** The three nodes of docker-compose.yml (service names nats-1 …, standard ports, volumes at /data). */
export function composeNatsConfigs(): { file: string; text: string }[] {
  const names = ['nats-1', 'nats-2', 'nats-3'];
  return names.map((name) => ({
    file: `${name}.conf`,
    text: renderNatsConfig({
      name,
      host: '0.0.0.0',
      clientPort: 4222,
      clusterPort: 6222,
      monitorPort: 8222,
      storeDir: '/data',
      routes: names.filter((n) => n !== name).map((n) => `${n}:6222`),
    }),
  }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  for (const { file, text } of composeNatsConfigs()) writeFileSync(join(dir, file), text);
}
