// A tiny standalone HTTP server for the service benchmarks (not the product): `hello` answers every
// request with a fixed text after reading its body (the limit of node:http on this machine); `node`
// and `fastify` run the same single-event append handler (read the body, JSON.parse, append to an
// in-memory EventStore, reply 201 with the offsets as JSON) on node:http and on fastify 5, so the two
// HTTP layers are compared with nothing else different. No journal, no validation beyond JSON.
// Usage: node --import tsx bench/server/http-harness.ts hello|node|fastify   (prints its URL)

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventStore } from '../../src/index.ts';

const mode = process.argv[2];
const HOST = '127.0.0.1';

interface Stored {
  offset: number;
  timestamp: number;
  data: unknown;
}
const store = new EventStore<Stored>({
  capacity: 100_000,
  partitions: 1,
  timestampSelector: (e) => e.timestamp,
});
let nextOffset = 0;

/** The shared handler: append one event, return the reply body. */
function append(stream: string, data: unknown): string {
  const offset = nextOffset++;
  store.tryAppend({ offset, timestamp: Date.now(), data });
  return JSON.stringify({ stream, firstOffset: offset, lastOffset: offset, count: 1 });
}

function readBody(req: IncomingMessage, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () =>
    done(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
  );
}

function listening(address: AddressInfo | string | null): void {
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  console.log(`harness listening on http://${HOST}:${port}`);
}

if (mode === 'hello') {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('hello world');
    });
  });
  server.listen(0, HOST, () => listening(server.address()));
} else if (mode === 'node') {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    readBody(req, (text) => {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        res.writeHead(400).end();
        return;
      }
      const body = append(req.url!.slice('/streams/'.length), data);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, HOST, () => listening(server.address()));
} else if (mode === 'fastify') {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
  app.post<{ Params: { name: string } }>('/streams/:name', (req, reply) => {
    const body = append(req.params.name, req.body);
    reply.code(201).header('content-type', 'application/json').send(body);
  });
  await app.listen({ port: 0, host: HOST });
  listening(app.server.address());
} else {
  console.error('usage: http-harness.ts hello|node|fastify');
  process.exit(2);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
