// The nginx configuration of the cluster topology: one entry point in front of the store nodes, for
// both deployments (the nginx.conf docker-compose.yml mounts, rendered by `npx tsx
// samples/cluster/nginx-config.ts > samples/cluster/nginx.conf`, and the config start-topology.ts and
// the tests write for the machine's nginx, with a private runtime directory). Any node takes any
// request, so plain round robin; SSE and long-polls pass through unbuffered.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface ClusterNginxOptions {
  /** The `listen` argument: `80`, or `127.0.0.1:8080`. */
  listen: string;
  /** The store nodes, `host:port`. */
  stores: readonly string[];
  /** When given, the pid and temp files go here (nginx started with `-p <dir> -e stderr`). */
  runtimeDir?: string;
}

/** Where nginx writes its pid when started with `runtimeDir`: only once it has bound its port. */
export function clusterNginxPidFile(runtimeDir: string): string {
  return join(runtimeDir, 'nginx.pid');
}

export function renderClusterNginxConfig(o: ClusterNginxOptions): string {
  const servers = o.stores.map((s) => `    server ${s} max_fails=1 fail_timeout=2s;`).join('\n');
  const runtime = o.runtimeDir === undefined ? '' : `pid ${clusterNginxPidFile(o.runtimeDir)};\n`;
  const temp =
    o.runtimeDir === undefined
      ? ''
      : ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
          .map((k) => `  ${k}_temp_path ${join(o.runtimeDir!, `${k}_temp`)};\n`)
          .join('');
  return `# nginx in front of the store nodes of the cluster (rendered by samples/cluster/nginx-config.ts).
worker_processes 1;
error_log stderr warn;
${runtime}
events {
  worker_connections 1024;
}

http {
  access_log off;
  client_max_body_size 8m;
  # Request bodies up to 1 MB stay in memory (larger ones go to a temp file).
  client_body_buffer_size 1m;
${temp}
  upstream stores {
${servers}
    keepalive 64;
    # Below the stores' keep-alive timeout (5 s): nginx never reuses a connection a store is closing.
    keepalive_timeout 4s;
  }

  server {
    listen ${o.listen};

    location / {
      proxy_pass http://stores;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_connect_timeout 2s;
      # Long-polls wait up to 60 s; SSE subscriptions stream.
      proxy_read_timeout 90s;
      proxy_buffering off;
      # Fail over only when the request could not be handed to a node. A POST a node may have
      # received is never resent by nginx: the client's idempotent producer retries it safely.
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 5s;
    }
  }
}
`;
}

/** The config mounted by docker-compose.yml (store nodes store-1 … on port 7070). */
export function composeClusterNginxConfig(): string {
  return renderClusterNginxConfig({
    listen: '80',
    stores: ['store-1:7070', 'store-2:7070', 'store-3:7070'],
  });
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  process.stdout.write(composeClusterNginxConfig());
}
