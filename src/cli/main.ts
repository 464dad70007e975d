#!/usr/bin/env node
// The `lockfree-eventstore` command. The only module that reads argv or calls process.exit.
//   lockfree-eventstore serve [--port 7070] [--data-dir ./data] …  the HTTP service (docs/http-api.md)
//   lockfree-eventstore snapshot inspect <file...>   header, count and checksum verdict of snapshot files
//   lockfree-eventstore journal inspect <file...>    records and torn-tail verdict of journal segments

import { parseArgs } from 'node:util';
import { createServer, type ServerOptions } from '../server/create-server.js';
import { inspectFile } from './inspect.js';

const USAGE = `Usage:
  lockfree-eventstore serve [options]                         run the HTTP server (SIGTERM: drain, final snapshot, exit 0)
      --port <n>              TCP port, 0 = any free one (default 7070)
      --host <addr>           interface to bind (default 127.0.0.1)
      --data-dir <dir>        snapshots and journal (default ./data)
      --fsync <policy>        always | everysec | no (default everysec)
      --token <secret>        require Authorization: Bearer <secret> (or env LOCKFREE_EVENTSTORE_TOKEN)
      --cors-origin <origin>  allow browser pages of this origin (or *) to call the server
      --max-body-bytes <n>    largest request body (default 8388608)
      --max-json-depth <n>    deepest nesting of arrays/objects in an event (default 128)
      --stream-capacity <n>   events held per stream (default 100000)
      --max-stream-capacity <n>  largest ?capacity= of a new stream (default 1000000)
      --max-streams <n>       live streams at most (default 1000)
      --memory-budget-bytes <n>  bytes all held events may take (default half the V8 heap limit)
      --max-tombstones <n>    deleted stream names remembered (default 100000)
      --max-connections <n>   open connections at most (default: open-file limit - 128, max 10000)
      --max-subscribers <n>   SSE subscriptions + waiting long-polls at most (default min(1000, connections/2))
      --max-producers-per-stream <n>  producer ids remembered per stream (default 10000)
      --headers-timeout-ms <n>  time to receive a request's headers; silent connections are cut after it (default 10000)
      --snapshot-interval-ms <n>  snapshot time trigger (default 60000)
      --fail-closed-after-ms <n>  refuse appends (503) once snapshots have failed for this long (default off)
      --log-level <level>     pino level (default info, or env LOCKFREE_EVENTSTORE_LOG_LEVEL)
  lockfree-eventstore snapshot inspect <file...> [--json]   check snapshot files (header, count, checksum)
  lockfree-eventstore journal inspect <file...> [--json]    check journal segment files (records, torn tail)
  lockfree-eventstore --help

Exit status: 0 when every file is valid, 1 when one is not, 2 on a usage error.`;

const SERVE_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  fsync: { type: 'string' },
  token: { type: 'string' },
  'cors-origin': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'max-json-depth': { type: 'string' },
  'stream-capacity': { type: 'string' },
  'max-stream-capacity': { type: 'string' },
  'max-streams': { type: 'string' },
  'memory-budget-bytes': { type: 'string' },
  'max-tombstones': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-subscribers': { type: 'string' },
  'headers-timeout-ms': { type: 'string' },
  'max-producers-per-stream': { type: 'string' },
  'snapshot-interval-ms': { type: 'string' },
  'fail-closed-after-ms': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function integerArg(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text))
    throw new UsageError(`--${name} must be a non-negative integer, received ${text}`);
  return Number(text);
}

class UsageError extends Error {}

/** Runs the server until SIGTERM/SIGINT; resolves with the exit status. */
async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: SERVE_OPTIONS, allowPositionals: false });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const options: ServerOptions = { dataDir: values['data-dir'] ?? './data' };
  const set = <K extends keyof ServerOptions>(key: K, v: ServerOptions[K] | undefined): void => {
    if (v !== undefined) options[key] = v;
  };
  set('port', integerArg('port', values.port));
  set('host', values.host);
  set('token', values.token);
  set('corsOrigin', values['cors-origin']);
  set('logLevel', values['log-level']);
  set('maxBodyBytes', integerArg('max-body-bytes', values['max-body-bytes']));
  set('maxJsonDepth', integerArg('max-json-depth', values['max-json-depth']));
  set('streamCapacity', integerArg('stream-capacity', values['stream-capacity']));
  set('maxStreamCapacity', integerArg('max-stream-capacity', values['max-stream-capacity']));
  set('maxStreams', integerArg('max-streams', values['max-streams']));
  set('memoryBudgetBytes', integerArg('memory-budget-bytes', values['memory-budget-bytes']));
  set('maxTombstones', integerArg('max-tombstones', values['max-tombstones']));
  set('maxConnections', integerArg('max-connections', values['max-connections']));
  set('maxSubscribers', integerArg('max-subscribers', values['max-subscribers']));
  set('headersTimeoutMs', integerArg('headers-timeout-ms', values['headers-timeout-ms']));
  set('maxProducersPerStream', integerArg('max-producers-per-stream', values['max-producers-per-stream']));
  set('snapshotIntervalMs', integerArg('snapshot-interval-ms', values['snapshot-interval-ms']));
  set('failClosedAfterMs', integerArg('fail-closed-after-ms', values['fail-closed-after-ms']));
  if (values.fsync !== undefined) {
    if (values.fsync !== 'always' && values.fsync !== 'everysec' && values.fsync !== 'no') {
      throw new UsageError(`--fsync must be always, everysec or no, received ${values.fsync}`);
    }
    options.fsync = values.fsync;
  }
  const server = createServer(options);
  const url = await server.listen();
  console.log(`lockfree-eventstore listening on ${url}`);
  return new Promise<number>((resolve) => {
    let signalled = false;
    const stop = (signal: string): void => {
      if (signalled) {
        console.error(`${signal} again: exiting without the final snapshot`);
        resolve(1);
        return;
      }
      signalled = true;
      server.close().then(
        () => resolve(0),
        (err: unknown) => {
          console.error(`shutdown failed: ${(err as Error).message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'serve') {
    try {
      return await serve(argv.slice(1));
    } catch (err) {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        console.error(`${(err as Error).message}\n\n${USAGE}`);
        return 2;
      }
      throw err;
    }
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const [group, command, ...files] = positionals;
  if ((group === 'snapshot' || group === 'journal') && command === 'inspect' && files.length > 0) {
    let allValid = true;
    for (const file of files) {
      const report = await inspectFile(file);
      allValid &&= report.valid;
      if (values.json === true) {
        console.log(JSON.stringify(report));
        continue;
      }
      console.log(
        `${report.file}: ${report.kind}, ${report.bytes} bytes, ${report.valid ? 'VALID' : 'INVALID'}`,
      );
      for (const [k, v] of Object.entries(report.details))
        console.log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
      if (report.error !== undefined) console.log(`  error: ${report.error}`);
    }
    return allValid ? 0 : 1;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(2);
  },
);
