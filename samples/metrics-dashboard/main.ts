// Runs the metrics dashboard: an HTTP API over an in-process EventStore plus a page of live uPlot
// charts. `npm run sample:dashboard -- --port 7073`; prints the bound URL once listening and shuts
// down cleanly on SIGINT/SIGTERM. The only file that reads argv, env or calls process.exit.

import { parseArgs } from 'node:util';
import { onStopSignals } from '../shared/stop-signals.ts';
import { createDashboardServer, DASHBOARD_DEFAULT_PORT } from './dashboard-server.ts';
import { MetricsStore } from './metrics-store.ts';

const USAGE = `usage: npm run sample:dashboard -- [options]
  --port <n>            port to listen on (env PORT; default ${DASHBOARD_DEFAULT_PORT}; 0 picks a free port)
  --host <addr>         address to bind (default 127.0.0.1)
  --capacity <n>        metric events held; the oldest are evicted (default 200000)
  --window-minutes <n>  the page's window and the store's bucket span (default 5)
  --max-body-bytes <n>  largest POST /metrics body (default 1048576)`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function integerOption(name: string, text: string | undefined, fallback: number, min: number, max: number) {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    fail(`--${name} must be an integer in [${min}, ${max}], received ${JSON.stringify(text)}`);
  }
  return n;
}

function readArgs() {
  try {
    return parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        capacity: { type: 'string' },
        'window-minutes': { type: 'string' },
        'max-body-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    return fail((err as Error).message);
  }
}

const values = readArgs();
if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}

const port = integerOption('port', values.port ?? process.env.PORT, DASHBOARD_DEFAULT_PORT, 0, 65_535);
// No HOST env: shells and CI images set it to a machine name, which would expose the sample.
const host = values.host ?? '127.0.0.1';
const windowMinutes = integerOption('window-minutes', values['window-minutes'], 5, 1, 24 * 60);
const store = new MetricsStore({
  capacity: integerOption('capacity', values.capacity, 200_000, 64, 50_000_000),
  windowSizeMs: windowMinutes * 60_000,
  bucketCount: 60,
});
const server = createDashboardServer({
  store,
  maxBodyBytes: integerOption('max-body-bytes', values['max-body-bytes'], 1 << 20, 1024, 64 << 20),
});

server.on('error', (err) => {
  console.error(`metrics dashboard could not listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  console.log(`metrics dashboard listening on http://${shownHost}:${bound}`);
});

function shutdown(signal: string): void {
  console.log(`${signal}: closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  // A browser's keep-alive poll must not hold the process open.
  setTimeout(() => {
    server.closeAllConnections();
  }, 1_000).unref();
}
onStopSignals({
  onStop: shutdown,
  onRepeat: (signal) => {
    console.error(`${signal} again: exiting now`);
    process.exit(1);
  },
});
