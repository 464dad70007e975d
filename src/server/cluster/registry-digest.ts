// A digest per stream of a registry's state: capacity, offsets, every held event (offset, receive
// time, data), the idempotent producers in the order the registry keeps them (their order decides
// which one is dropped first), and what the Durable Streams endpoint keeps of it (content type,
// expiry and its last refresh, fork link, closure, Stream-Seq, deleted-but-kept-for-forks). Nodes that
// applied the same log have equal digests. Synchronous; reads the registry on the server's thread.

import { createHash } from 'node:crypto';
import { stringifyJson } from '../../json.js';
import type { StreamRegistry } from '../streams/stream-registry.js';

/** Stream name -> SHA-256 (hex) of its state. */
export function streamDigests(registry: StreamRegistry): Record<string, string> {
  const out: Record<string, string> = {};
  for (const stream of registry.list(true)) {
    const hash = createHash('sha256');
    hash.update(
      stringifyJson({
        capacity: stream.capacity,
        firstOffset: stream.firstOffset,
        next: stream.next,
        producers: [...stream.producers],
        config: stream.config,
        createdAt: stream.createdAt,
        activeAt: stream.activeAt,
        closed: stream.closed,
        seq: stream.seq,
        gone: stream.gone,
      }),
    );
    for (const e of stream.store.readVersions(0, 0, stream.capacity).events) {
      hash.update('\n');
      hash.update(stringifyJson(e));
    }
    out[stream.name] = hash.digest('hex');
  }
  return out;
}
