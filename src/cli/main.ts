#!/usr/bin/env node
// The `lockfree-eventstore` command. The only module that reads argv or calls process.exit.
//   lockfree-eventstore serve [--port 7070] [--data-dir ./data] …  the HTTP service (docs/http-api.md)
//   lockfree-eventstore snapshot inspect <file...>   header, count and checksum verdict of snapshot files
//   lockfree-eventstore journal inspect <file...>    records and torn-tail verdict of journal segments
//   lockfree-eventstore data streams|read <dir> …    a server data directory's streams and events, read-only
//   lockfree-eventstore --version

import { parseArgs } from 'node:util';
import { EventStoreError, ensureSyncPolicy } from '../errors.js';
import { createServer, type ServerOptions } from '../server/index.js';
import { integerArg, type Output, UsageError, usageMessage } from './arguments.js';
import { runDataCommand } from './data.js';
import { runInspect } from './inspect.js';
import { packageVersion } from './version.js';

const USAGE = `Usage:
  lockfree-eventstore serve [options]                         run the HTTP server (SIGTERM: drain, final snapshot, exit 0)
      --port <n>              TCP port, 0 = any free one (default 7070)
      --host <addr>           interface to bind (default 127.0.0.1)
      --data-dir <dir>        snapshots and journal (default ./data)
      --fsync <policy>        always | everysec | no (default everysec)
      --token <secret>        require Authorization: Bearer <secret> (or env LFES_TOKEN)
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
      --long-poll-timeout-ms <n>  how long a /v1/stream long-poll waits before 204 (default 3000)
      --max-producers-per-stream <n>  producer ids remembered per stream (default 10000)
      --headers-timeout-ms <n>  time to receive a request's headers; silent connections are cut after it (default 10000)
      --snapshot-interval-ms <n>  snapshot time trigger (default 60000)
      --fail-closed-after-ms <n>  refuse appends (503) once snapshots have failed for this long (default off)
      --log-level <level>     pino level (default info, or env LFES_LOG_LEVEL)
      --cluster <urls>        cluster mode: nats://h1:4222,nats://h2:4222,… (the NATS JetStream servers whose
                              log is the source of truth; the data dir then holds this node's checkpoints)
      --replicas <n>          replicas of the log when this node creates it (default 3)
      --node-id <id>          this node's name in GET /cluster and logs (default <hostname>-<pid>)
      --start-timeout-ms <n>  how long a starting node waits for NATS and the log before it exits (default 30000)
  lockfree-eventstore snapshot inspect <file...> [--json]   check snapshot files (header, count, checksum;
                                                            for a server shard, its streams and events)
  lockfree-eventstore journal inspect <file...> [--json]    check journal segment files (records, torn tail)
  lockfree-eventstore data streams <dir> [--json]           list the streams of a server data directory
  lockfree-eventstore data read <dir> <stream> [--from <offset>] [--limit <n>]
                                                            print a stream's events as NDJSON (default: all held)
      The data commands load the snapshots and replay the journal in memory; they never write, lock
      or clean anything in <dir>, so they also work while a server runs on it.
  lockfree-eventstore --version, -v                         print the version
  lockfree-eventstore --help, -h

Exit status: 0 on success; 1 when an inspected file is invalid or cannot be read, or when a data
directory cannot be read, lacks the stream, or holds ops that cannot be restored (ops that only an
unusable snapshot held, a journal gap); 2 on a usage error.`;

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
  'long-poll-timeout-ms': { type: 'string' },
  'headers-timeout-ms': { type: 'string' },
  'max-producers-per-stream': { type: 'string' },
  'snapshot-interval-ms': { type: 'string' },
  'fail-closed-after-ms': { type: 'string' },
  'log-level': { type: 'string' },
  cluster: { type: 'string' },
  replicas: { type: 'string' },
  'node-id': { type: 'string' },
  'start-timeout-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** How long after the first stop signal another one counts as the same request. */
const REPEAT_SIGNAL_MS = 1_000;

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
  set('longPollTimeoutMs', integerArg('long-poll-timeout-ms', values['long-poll-timeout-ms']));
  set('headersTimeoutMs', integerArg('headers-timeout-ms', values['headers-timeout-ms']));
  set('maxProducersPerStream', integerArg('max-producers-per-stream', values['max-producers-per-stream']));
  set('snapshotIntervalMs', integerArg('snapshot-interval-ms', values['snapshot-interval-ms']));
  set('failClosedAfterMs', integerArg('fail-closed-after-ms', values['fail-closed-after-ms']));
  if (values.cluster !== undefined) {
    const servers = values.cluster
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const replicas = integerArg('replicas', values.replicas);
    const startTimeoutMs = integerArg('start-timeout-ms', values['start-timeout-ms']);
    options.cluster = {
      servers,
      ...(replicas === undefined ? {} : { replicas }),
      ...(values['node-id'] === undefined ? {} : { nodeId: values['node-id'] }),
      ...(startTimeoutMs === undefined ? {} : { startTimeoutMs }),
    };
  } else if (
    values.replicas !== undefined ||
    values['node-id'] !== undefined ||
    values['start-timeout-ms'] !== undefined
  ) {
    throw new UsageError(
      '--replicas, --node-id and --start-timeout-ms apply to cluster mode: give --cluster too',
    );
  }
  if (values.fsync !== undefined) {
    try {
      options.fsync = ensureSyncPolicy('--fsync', values.fsync);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const server = createServer(options);
  const url = await server.listen();
  // The stop handlers are in place before the banner: a supervisor may signal as soon as it reads it.
  const exitStatus = new Promise<number>((resolve) => {
    // One Ctrl-C under `npm start` arrives twice (the terminal signals npm's whole process group, and
    // npm relays it too), as does a supervisor's signal to a process tree: a stop signal within
    // REPEAT_SIGNAL_MS of the first is the same request; a later one exits at once.
    let firstAt: number | undefined;
    const stop = (signal: string): void => {
      const now = performance.now();
      if (firstAt !== undefined) {
        if (now - firstAt <= REPEAT_SIGNAL_MS) return;
        console.error(`${signal} again: exiting without the final snapshot`);
        resolve(1);
        return;
      }
      firstAt = now;
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
  // stdout carries only the JSON log lines; what a person reads goes to stderr.
  console.error(`lockfree-eventstore listening on ${url}`);
  return exitStatus;
}

const COMMAND_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  json: { type: 'boolean' },
  from: { type: 'string' },
  limit: { type: 'string' },
} as const;

const io: Output = { out: (line) => console.log(line), err: (line) => console.error(line) };

/** Every command but `serve`. */
async function command(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMAND_OPTIONS });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if (values.version === true) {
    console.log(packageVersion());
    return 0;
  }
  const [group, name, ...rest] = positionals;
  if (group === 'data') return runDataCommand(name, rest, values, io);
  if ((group === 'snapshot' || group === 'journal') && name === 'inspect') {
    if (rest.length === 0) throw new UsageError(`${group} inspect needs at least one file`);
    if (values.from !== undefined || values.limit !== undefined) {
      throw new UsageError(`--from and --limit apply to data read, not ${group} inspect`);
    }
    return runInspect(rest, values.json === true, io);
  }
  throw new UsageError(
    group === undefined ? 'missing command' : `unknown command ${[group, name].filter(Boolean).join(' ')}`,
  );
}

async function main(argv: string[]): Promise<number> {
  try {
    return argv[0] === 'serve' ? await serve(argv.slice(1)) : await command(argv);
  } catch (err) {
    const message = usageMessage(err);
    if (message !== undefined) {
      console.error(`${message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof EventStoreError) {
      // A failure with its own words (a port in use, a data directory held by another server, an
      // option out of range): one line, exit 1.
      console.error(`lockfree-eventstore: ${err.message} (${err.code})`);
      return 1;
    }
    throw err;
  }
}

/**
 * Exits once stdout and stderr have handed everything to the OS: process.exit() right after a large
 * output to a pipe would cut it short (`data read … | head`, a test reading the output).
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main(process.argv.slice(2)).then(exitAfterOutput, (err: unknown) => {
  console.error((err as Error).message);
  exitAfterOutput(2);
});
