// A catch-up reader of a Durable Streams stream, in a process of its own, for
// bench/durable-streams.bench.ts: `concurrency` loops each read the whole stream from `-1`, following
// `Stream-Next-Offset` until `Stream-Up-To-Date`, again and again for `seconds`; prints the bytes
// received and the time taken as one JSON line. Not the product.
// Usage: node --import tsx bench/server/catch-up-reader.ts <stream URL> <seconds> <concurrency>

const [url, seconds, concurrency] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];

async function readWhole(): Promise<number> {
  let offset = '-1';
  let bytes = 0;
  for (;;) {
    const res = await fetch(`${url}?offset=${encodeURIComponent(offset)}`);
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
    bytes += (await res.arrayBuffer()).byteLength;
    offset = res.headers.get('stream-next-offset') ?? offset;
    if (res.headers.get('stream-up-to-date') === 'true') return bytes;
  }
}

const started = performance.now();
const deadline = started + seconds * 1000;
let bytes = 0;
let reads = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      bytes += await readWhole();
      reads++;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
console.log(`READER_JSON ${JSON.stringify({ bytes, reads, seconds: elapsed })}`);
