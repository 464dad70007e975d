import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  name: string;
  type: string;
  engines: { node: string };
  exports: Record<string, { types: string; default: string }>;
};

describe('the npm package', () => {
  it('is ESM only and requires Node >= 20.15', () => {
    assert.equal(pkg.name, 'lockfree-eventstore');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.engines.node, '>=20.15');
  });

  it('points every export at built JavaScript with type declarations', () => {
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (entry === './package.json') continue;
      for (const file of [target.default, target.types]) {
        assert.ok(existsSync(new URL(file, root)), `${entry} -> ${file} is missing; run \`npm run build\``);
      }
    }
  });

  it('resolves `lockfree-eventstore` to a working store through the exports map', async () => {
    const mod = (await import('lockfree-eventstore')) as unknown as typeof import('../src/index.ts');
    for (const name of [
      'EventStore',
      'EventStoreBuilder',
      'EventStoreError',
      'ErrorCode',
      'partitionForKey',
    ]) {
      assert.ok(name in mod, `lockfree-eventstore does not export ${name}`);
    }
    const store = new mod.EventStore<{ v: number }>({ capacity: 4, partitions: 2 });
    store.tryAppend({ v: 2 });
    store.tryAppend({ v: 3 });
    assert.equal(
      store.sum((e) => e.v),
      5,
    );
  });
});

describe('the server and client entry points', () => {
  it('resolve `lockfree-eventstore/server` and `lockfree-eventstore/client` through the exports map', async () => {
    const server = (await import(
      'lockfree-eventstore/server'
    )) as unknown as typeof import('../src/server/index.ts');
    assert.equal(typeof server.createServer, 'function');
    const client = (await import(
      'lockfree-eventstore/client'
    )) as unknown as typeof import('../src/client/index.ts');
    assert.equal(typeof client.EventStoreClient, 'function');
    assert.equal(client.ErrorCode.OFFSET_EVICTED, 'ES_ERR_OFFSET_EVICTED');
  });
});
