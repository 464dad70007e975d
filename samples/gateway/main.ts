// Entry point of one gateway process: reads its id, port, event store URL and token from flags or
// env, serves until SIGTERM/SIGINT, then stops accepting, finishes in-flight requests and exits 0.
// Usage: node --import tsx samples/gateway/main.ts [--port 8081] [--gateway-id gateway1]
//          [--eventstore-url http://127.0.0.1:7070] [--host 127.0.0.1] [--token <secret>]

import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createGateway } from './gateway.ts';

const USAGE = `Usage: node --import tsx samples/gateway/main.ts [options]
  --port <n>              port to listen on, 0 = any free one (env PORT, default 8080)
  --host <addr>           interface to bind (env HOST, default 127.0.0.1)
  --gateway-id <id>       this gateway's id in every order (env GATEWAY_ID, default gateway-<random>)
  --eventstore-url <url>  the event store server (env EVENTSTORE_URL, default http://127.0.0.1:7070)
  --token <secret>        bearer token of the event store (env EVENTSTORE_TOKEN)`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function flags() {
  try {
    return parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'gateway-id': { type: 'string' },
        'eventstore-url': { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail((err as Error).message);
  }
}
const { values } = flags();
if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}

const portText = values.port ?? process.env.PORT ?? '8080';
if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65_535) fail(`bad port ${JSON.stringify(portText)}`);
const gatewayId = values['gateway-id'] ?? process.env.GATEWAY_ID ?? `gateway-${randomUUID().slice(0, 8)}`;
if (!/^[A-Za-z0-9._-]{1,64}$/.test(gatewayId)) {
  fail(`the gateway id must be 1-64 letters, digits or ._-, received ${JSON.stringify(gatewayId)}`);
}
const storeUrl = values['eventstore-url'] ?? process.env.EVENTSTORE_URL ?? 'http://127.0.0.1:7070';
if (!URL.canParse(storeUrl)) fail(`bad event store URL ${JSON.stringify(storeUrl)}`);

const gateway = createGateway({
  gatewayId,
  storeUrl,
  token: values.token ?? process.env.EVENTSTORE_TOKEN,
});
const host = values.host ?? process.env.HOST ?? '127.0.0.1';
gateway.server.listen(Number(portText), host, () => {
  const { port } = gateway.server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  console.log(`${gatewayId} listening on http://${shown}:${port} (event store ${storeUrl})`);
});
gateway.server.on('error', (err) => {
  console.error(`${gatewayId}: ${err.message}`);
  process.exit(1);
});

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) {
    console.error(`${gatewayId}: ${signal} again, exiting now`);
    process.exit(1);
  }
  stopping = true;
  void gateway.close().then(() => {
    const { sent, sum } = gateway.stats();
    console.log(`${gatewayId} stopped (${signal}): sent ${sent}, sum ${sum}`);
    process.exit(0);
  });
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
