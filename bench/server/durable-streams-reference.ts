// The Durable Streams reference server (@durable-streams/server, the protocol's own Node server) in a
// process of its own, for bench/durable-streams.bench.ts: in memory, or file-backed (LMDB, an fsync
// per append) in the given directory. Not the product.
// Usage: node --import tsx bench/server/durable-streams-reference.ts memory|file [dataDir]   (prints its URL)

import { DurableStreamTestServer } from '@durable-streams/server';

const mode = process.argv[2];
const dataDir = process.argv[3];
if (mode !== 'memory' && !(mode === 'file' && dataDir !== undefined)) {
  console.error('usage: durable-streams-reference.ts memory | file <dataDir>');
  process.exit(2);
}
const server = new DurableStreamTestServer({
  port: 0,
  host: '127.0.0.1',
  ...(mode === 'file' ? { dataDir } : {}),
});
const url = await server.start();
console.log(`reference listening on ${url}`);
process.once('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
