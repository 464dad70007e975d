// Quick start of EventStoreClient against a running server: appends N orders to a stream, reads the
// stream back from offset 0, and checks the sums it computed against the server's own aggregate.
// Each run groups its orders under its own gatewayId, so the check of this run's orders holds even
// while other writers (the gateway sample) append to the same stream.

import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ErrorCode, EventStoreClient, EventStoreHttpError } from 'lockfree-eventstore/client';

const USAGE = `Usage: EVENTSTORE_URL=http://localhost:7070 npm run sample:client -- [options]
  --count <n>         orders to append (default 1000)
  --stream <name>     stream to append to (default gateway/orders)
  --concurrency <n>   appends in flight at once, 1-64 (default 8)
env EVENTSTORE_URL    the server (default http://localhost:7070); EVENTSTORE_TOKEN: its bearer token, if any`;

interface Order {
  id: string;
  valor: number;
  gatewayId: string;
  timestamp: string;
}

function positiveInt(name: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < 1 || n > max) {
    throw new Error(`--${name} must be an integer in [1, ${max}], received ${JSON.stringify(text)}`);
  }
  return n;
}

function readOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string' },
      stream: { type: 'string' },
      concurrency: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  const url = process.env.EVENTSTORE_URL || 'http://localhost:7070';
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new Error(`EVENTSTORE_URL must be an absolute http(s) URL, received ${JSON.stringify(url)}`);
  }
  return {
    url,
    token: process.env.EVENTSTORE_TOKEN || undefined,
    count: positiveInt('count', values.count, 1000, 10_000_000),
    stream: values.stream ?? 'gateway/orders',
    concurrency: positiveInt('concurrency', values.concurrency, 8, 64),
  };
}

const elapsedMs = (since: number): number => Math.round(performance.now() - since);

async function run(): Promise<number> {
  const o = readOptions(process.argv.slice(2));
  const client = new EventStoreClient(o.url, o.token === undefined ? {} : { token: o.token });
  const runId = `client-${Date.now().toString(36)}`;
  const started = performance.now();
  console.log(`[client] event store ${o.url}, stream ${o.stream}, run ${runId}`);

  // 1. Append: `concurrency` workers take the next order number until all are sent.
  let next = 0;
  let sentSum = 0;
  let firstOffset = Number.POSITIVE_INFINITY;
  let lastOffset = -1;
  const worker = async (): Promise<void> => {
    while (next < o.count) {
      const i = next++;
      const order: Order = {
        id: `${runId}-${i}`,
        valor: randomInt(1, 5000),
        gatewayId: runId,
        timestamp: new Date().toISOString(),
      };
      const ack = await client.append(o.stream, order);
      sentSum += order.valor;
      firstOffset = Math.min(firstOffset, ack.firstOffset);
      lastOffset = Math.max(lastOffset, ack.lastOffset);
    }
  };
  let t = performance.now();
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, worker));
  const appendMs = elapsedMs(t);
  console.log(
    `[client] appended ${o.count} orders in ${appendMs} ms (${Math.round((o.count * 1000) / Math.max(1, appendMs))} orders/s, ` +
      `${o.concurrency} in flight): offsets ${firstOffset}..${lastOffset}, sum valor ${sentSum}`,
  );

  // 2. Read the whole stream back, page by page, as the quick start does.
  t = performance.now();
  let from = 0;
  let read = { count: 0, sum: 0, first: -1, last: -1 };
  const mine = { count: 0, sum: 0 };
  for (;;) {
    try {
      for await (const ev of client.read<Partial<Order>>(o.stream, { from })) {
        if (read.first < 0) read.first = ev.offset;
        read.last = ev.offset;
        const valor = ev.data?.valor;
        if (typeof valor === 'number' && Number.isFinite(valor)) {
          read.count++;
          read.sum += valor;
          if (ev.data?.gatewayId === runId) {
            mine.count++;
            mine.sum += valor;
          }
        }
      }
      break;
    } catch (err) {
      // A full stream evicts its oldest events: start again from the oldest one it still holds.
      const oldest = (err as EventStoreHttpError).problem?.firstOffset;
      if ((err as EventStoreHttpError).code !== ErrorCode.OFFSET_EVICTED || typeof oldest !== 'number')
        throw err;
      console.log(`[client] offsets below ${oldest} were evicted; reading from ${oldest}`);
      from = oldest;
      read = { count: 0, sum: 0, first: -1, last: -1 };
      mine.count = mine.sum = 0;
    }
  }
  console.log(
    `[client] read back ${read.count} orders (offsets ${read.first}..${read.last}) in ${elapsedMs(t)} ms, ` +
      `sum valor ${read.sum}; this run's orders: ${mine.count}, sum valor ${mine.sum}`,
  );

  // 3. The same totals, computed by the server.
  const agg = await client.aggregate(o.stream, { field: 'valor', groupBy: 'gatewayId' });
  const group = agg.groups[runId] ?? { count: 0, sum: 0 };
  const runOk =
    mine.count === o.count && mine.sum === sentSum && group.count === o.count && group.sum === sentSum;
  const streamOk = agg.count === read.count && agg.sum === read.sum;
  console.log(
    `[client] server aggregate: stream count ${agg.count}, sum ${agg.sum} (${streamOk ? 'matches the read' : 'differs from the read: another writer appended meanwhile?'}); ` +
      `this run (groupBy gatewayId): count ${group.count}, sum ${group.sum} (${runOk ? 'matches' : 'MISMATCH'})`,
  );
  console.log(`[client] ${runOk ? 'ok' : 'FAILED'} in ${elapsedMs(started)} ms`);
  return runOk ? 0 : 1;
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof EventStoreHttpError && err.code === ErrorCode.NETWORK) {
      // fetch hides the socket error (ECONNREFUSED, ENOTFOUND, bad port) a cause or two down.
      let reason: string | undefined;
      for (let c = err.cause as { cause?: unknown; code?: unknown; message?: unknown } | undefined; c; ) {
        if (typeof c.code === 'string') reason = c.code;
        else if (c.cause === undefined && typeof c.message === 'string') reason = c.message;
        c = c.cause as typeof c;
      }
      console.error(
        `[client] cannot reach the event store at ${process.env.EVENTSTORE_URL || 'http://localhost:7070'}: ${err.message}${reason === undefined ? '' : ` (${reason})`}\n` +
          '[client] start one with `npm start` (port 7070) or point EVENTSTORE_URL at a running server',
      );
    } else if (err instanceof EventStoreHttpError) {
      console.error(`[client] the event store answered ${err.status} ${err.code}: ${err.message}`);
    } else {
      console.error(`[client] ${(err as Error).message}`);
    }
    process.exitCode = 1;
  },
);
