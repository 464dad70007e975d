// The nginx configuration of the gateway topology, rendered from one template for both deployments:
// `nginx.conf` (mounted by docker-compose.yml) and the config start-topology.ts writes for the
// machine's nginx (loopback ports, pid and temp files in a private directory, no root paths).
// Run `npx tsx samples/gateway/nginx-config.ts > samples/gateway/nginx.conf` after changing it.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The compose topology: service names and the port every gateway container listens on. */
export const COMPOSE_TOPOLOGY = {
  gateways: ['gateway1', 'gateway2', 'gateway3'],
  gatewayPort: 8080,
  /** nginx listens on 80 inside its container, published on the host as 8080. */
  nginxPort: 80,
  publishedNginxPort: 8080,
} as const;

/**
 * The default ports of start-topology.ts: nginx on the same host port as in compose; the store on
 * 7071, beside the 7070 of `npm start`, so the sample and the server run side by side.
 */
export const LOCAL_TOPOLOGY = {
  nginxPort: COMPOSE_TOPOLOGY.publishedNginxPort,
  storePort: 7071,
  gatewayPorts: [8081, 8082, 8083],
} as const;

export interface NginxConfigOptions {
  /** The `listen` argument: `80`, or `127.0.0.1:8080`. */
  listen: string;
  /** Upstream servers, `host:port`. */
  gateways: readonly string[];
  /**
   * When given, the pid file and temp files go here, so an unprivileged nginx started with
   * `-p <dir> -e stderr` never touches /etc/nginx, /var/run or /var/lib/nginx.
   */
  runtimeDir?: string;
}

/** Where nginx writes its pid when started with `runtimeDir`: only once it has bound its port. */
export function nginxPidFile(runtimeDir: string): string {
  return join(runtimeDir, 'nginx.pid');
}

export function renderNginxConfig(options: NginxConfigOptions): string {
  const { listen, gateways, runtimeDir } = options;
  const servers = gateways.map((g) => `    server ${g} max_fails=1 fail_timeout=5s;`).join('\n');
  const runtime = runtimeDir === undefined ? '' : `pid ${nginxPidFile(runtimeDir)};\n`;
  const temp =
    runtimeDir === undefined
      ? ''
      : ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
          .map((k) => `  ${k}_temp_path ${join(runtimeDir, `${k}_temp`)};\n`)
          .join('');
  return `# nginx in front of the gateways of samples/gateway (rendered by nginx-config.ts; do not edit by hand).
# Works on stock nginx >= 1.18 (Debian 12 ships 1.22): no \`resolve\` upstream flag, no nginx Plus feature.
worker_processes 1;
error_log stderr warn;
${runtime}
events {
  worker_connections 1024;
}

http {
  access_log off;
${temp}
  upstream gateways {
    # A gateway that refuses one connection is skipped for fail_timeout; the others take its share.
${servers}
    keepalive 64;
    # Below the gateways' keep-alive timeout (Node's default, 5 s): nginx must never reuse a
    # connection the gateway is closing, or a POST on it fails with 502.
    keepalive_timeout 4s;
  }

  server {
    listen ${listen};

    location / {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
      # POST /orders/bulk?n=10000 answers when every order is stored.
      proxy_read_timeout 120s;
      # Fail over only when the request could not be handed to a gateway (connection refused or
      # timed out). nginx never resends a POST that a gateway may have received (no
      # \`non_idempotent\`): the client retries with the same order id, and the gateways' idempotency
      # key makes that retry safe on any gateway.
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 5s;
    }
  }
}
`;
}

/** The config mounted by docker-compose.yml. */
export function composeNginxConfig(): string {
  const t = COMPOSE_TOPOLOGY;
  return renderNginxConfig({
    listen: String(t.nginxPort),
    gateways: t.gateways.map((g) => `${g}:${t.gatewayPort}`),
  });
}

// Run directly: print the compose config (the redirect in the header comment regenerates nginx.conf).
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  process.stdout.write(composeNginxConfig());
}
