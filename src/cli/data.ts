// `lockfree-eventstore data streams <dir>` and `data read <dir> <stream> [--from N] [--limit N]`: the
// streams and events of a server's data directory, offline, read-only (see data-dir.ts), also while a
// server runs on it. Data goes to stdout; what the read found on the way goes to stderr.

import { describeFsError, integerArg, type Output, UsageError } from './arguments.js';
import { type DataDirView, readDataDir } from './data-dir.js';

/** Options of the `data` commands, as parsed by main.ts. */
export interface DataOptions {
  json?: boolean | undefined;
  from?: string | undefined;
  limit?: string | undefined;
}

/** Runs `data <command> …`; resolves with the exit status (see the usage text). */
export async function runDataCommand(
  command: string | undefined,
  args: readonly string[],
  options: DataOptions,
  io: Output,
): Promise<number> {
  if (command === 'streams') {
    if (args.length !== 1)
      throw new UsageError('data streams needs exactly one argument: the data directory');
    refuseReadOptions(options, 'data streams');
    const view = await read(args[0]!, io);
    if (view === undefined) return 1;
    return listStreams(args[0]!, view, options.json === true, io);
  }
  if (command === 'read') {
    if (args.length !== 2) {
      throw new UsageError('data read needs two arguments: the data directory and the stream name');
    }
    const from = integerArg('from', options.from);
    const limit = integerArg('limit', options.limit);
    const view = await read(args[0]!, io);
    if (view === undefined) return 1;
    return readStream(args[0]!, view, args[1]!, from, limit, io);
  }
  throw new UsageError(
    command === undefined ? 'data needs a command: streams or read' : `unknown command data ${command}`,
  );
}

function refuseReadOptions(options: DataOptions, command: string): void {
  for (const name of ['from', 'limit'] as const) {
    if (options[name] !== undefined) throw new UsageError(`--${name} applies to data read, not ${command}`);
  }
}

async function read(dir: string, io: Output): Promise<DataDirView | undefined> {
  try {
    return await readDataDir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.err(
      code !== undefined && !code.startsWith('ES_ERR')
        ? `${dir}: ${describeFsError(err)}`
        : (err as Error).message,
    );
    return undefined;
  }
}

/** What the read found, on stderr; returns the exit status (1 when data could not be restored). */
function report(dir: string, view: DataDirView, io: Output): number {
  const j = view.journal;
  io.err(
    `read ${dir}: ${view.shards} shards, ${view.snapshots.length} snapshots, ${j.segments} journal segments, ` +
      `${j.recordsReplayed} journaled ops replayed`,
  );
  if (j.tornTailBytes > 0) {
    io.err(
      `  torn journal tail: ${j.tornTailBytes} bytes dropped (a write being made now, or one cut short by a crash; the server's restore drops it too)`,
    );
  }
  for (const note of view.notes) io.err(`  note: ${note}`);
  for (const problem of view.problems) io.err(`  problem: ${problem}`);
  return view.problems.length > 0 ? 1 : 0;
}

function listStreams(dir: string, view: DataDirView, json: boolean, io: Output): number {
  // The shape of the server's GET /streams, so the two can be compared or processed alike.
  const streams = view.registry.list().map((s) => ({
    name: s.name,
    capacity: s.capacity,
    count: s.store.size,
    firstOffset: s.firstOffset,
    lastOffset: s.next - 1,
    nextOffset: s.next,
  }));
  if (json) {
    const { shards, snapshots, journal, problems, notes } = view;
    io.out(JSON.stringify({ dir, shards, streams, snapshots, journal, problems, notes }));
  } else {
    const rows = [
      ['stream', 'events', 'first', 'last', 'capacity'],
      ...streams.map((s) => [s.name, s.count, s.firstOffset, s.lastOffset, s.capacity].map(String)),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const row of rows) {
      io.out(
        row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
      );
    }
  }
  return report(dir, view, io);
}

function readStream(
  dir: string,
  view: DataDirView,
  name: string,
  from: number | undefined,
  limit: number | undefined,
  io: Output,
): number {
  const stream = view.registry.get(name);
  if (stream === undefined) {
    io.err(`stream ${JSON.stringify(name)} is not in ${dir}`);
    report(dir, view, io);
    return 1;
  }
  const first = stream.firstOffset;
  const start = from ?? first;
  if (start < first) {
    io.err(
      `offsets ${start}..${first - 1} of ${name} were evicted (the stream holds ${first}..${stream.next - 1})`,
    );
  }
  const page = stream.read(start, limit ?? stream.capacity);
  for (const e of page.events) io.out(JSON.stringify(e));
  return report(dir, view, io);
}
