// The shard ops the Durable Streams protocol adds (a create with a configuration, chunk, close,
// touch, soft delete, byte events in snapshots) survive their compact JSON records unchanged, and a
// registry restored from a capture of protocol streams holds the same state.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ShardOp, ShardOpCodec } from '../../../src/server/streams/shard-ops.ts';
import { StreamRegistry } from '../../../src/server/streams/stream-registry.ts';

const codec = new ShardOpCodec();
const roundTrip = (op: ShardOp): ShardOp => codec.decode(codec.encode(op));

function registry(): StreamRegistry {
  return new StreamRegistry({
    shards: 2,
    streamCapacity: 100,
    maxStreams: 100,
    maxProducersPerStream: 10,
    memoryBudgetBytes: 10_000_000,
    maxTombstones: 100,
  });
}

describe('shard ops of the Durable Streams protocol', () => {
  it('decode from their records exactly as they were', () => {
    const producer = { id: 'p', epoch: 2, ack: { seq: 3, firstOffset: 5, lastOffset: 5, count: 1, hash: 0 } };
    const ops: ShardOp[] = [
      {
        kind: 'create',
        stream: 'f',
        capacity: 10,
        firstOffset: 4,
        config: { contentType: 'text/plain', ttlSeconds: 60, fork: { source: 's', at: 4, cut: 2 } },
        createdAt: 1_000,
        activeAt: 2_000,
        closed: true,
        seq: 'a-9',
        gone: true,
      },
      {
        kind: 'create',
        stream: 'e',
        capacity: 10,
        firstOffset: 0,
        config: { contentType: 'x/y', expiresAtMs: 9_000 },
      },
      {
        kind: 'chunk',
        stream: 'f',
        offset: 5,
        timestamp: 3_000,
        charge: 170,
        producer,
        close: true,
        seq: 'b',
        data: 'AAEC',
      },
      { kind: 'close', stream: 'f', timestamp: 4_000, producer },
      { kind: 'touch', stream: 'f', timestamp: 5_000 },
      { kind: 'delete', stream: 'f', soft: true },
      { kind: 'delete', stream: 'f' },
      {
        kind: 'batch',
        stream: 'j',
        firstOffset: 0,
        timestamp: 1,
        chargeEach: 170,
        close: true,
        seq: 'q',
        data: [{ a: 1 }],
      },
    ];
    for (const op of ops) assert.deepEqual(roundTrip(op), op);
  });

  it('keep byte events of a snapshot as bytes (base64 on disk)', () => {
    const op: ShardOp = {
      kind: 'events',
      stream: 'b',
      events: [{ offset: 0, timestamp: 1, data: Buffer.from([0, 255, 10, 13]) }],
      charges: [164],
    };
    const back = roundTrip(op) as Extract<ShardOp, { kind: 'events' }>;
    assert.ok(Buffer.from(back.events[0]!.data as Uint8Array).equals(Buffer.from([0, 255, 10, 13])));
    assert.match(Buffer.from(codec.encode(op)).toString(), /"b64":1/);
  });

  it('restore a capture of protocol streams, forks and a deleted source to the same state', () => {
    const live = registry();
    const t = 1_000;
    live.create('src', {
      contentType: 'text/plain',
      closed: false,
      bytes: Buffer.from('hello').toString('base64'),
      charge: 5,
      timestamp: t,
    });
    live.write('src', {
      contentType: 'text/plain',
      bytes: Buffer.from(' world').toString('base64'),
      close: false,
      seq: 's1',
      charge: 6,
      timestamp: t + 1,
    });
    live.create('fork', {
      contentType: 'text/plain',
      closed: false,
      fork: { source: 'src', at: { offset: 1, byte: 0 }, sub: 3 },
      charge: 0,
      timestamp: t + 2,
      ttlSeconds: 30,
    });
    live.write('fork', { close: true, producer: { id: 'p', epoch: 0, seq: 0 }, charge: 0, timestamp: t + 3 });
    live.delete('src');
    assert.equal(live.get('src'), undefined, 'a source that forks read is deleted softly');
    assert.equal(live.getAny('src')?.gone, true);

    const target = live.snapshotTarget();
    const restored = registry();
    const into = restored.snapshotTarget();
    for (let p = 0; p < target.partitions; p++) {
      const { version, events } = target.capture(p);
      const ops = events.map(roundTrip);
      into.check(p, ops, version);
      into.restore(p, ops, version);
    }
    const fork = restored.get('fork')!;
    assert.equal(fork.closeCommitted, true);
    assert.equal(fork.config.ttlSeconds, 30);
    assert.deepEqual(fork.config.fork, { source: 'src', at: 1, cut: 3 });
    assert.equal(fork.activeAt, t + 3);
    assert.deepEqual(fork.producers.get('p')?.lastSeq, 0);
    assert.equal(restored.getAny('src')?.gone, true);
    assert.equal(restored.getAny('src')?.seq, 's1');
    assert.equal(restored.forkCount('src'), 1);
    // Deleting the last fork frees the deleted source, in the restored registry too.
    restored.delete('fork');
    assert.equal(restored.getAny('src'), undefined);
  });
});
