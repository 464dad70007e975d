import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import semver from 'semver';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  name: string;
  type: string;
  engines: { node: string };
  exports: Record<string, { types: string; default: string }>;
  dependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
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

describe('the lockfile', () => {
  const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as {
    packages: Record<string, { version?: string; engines?: unknown; hasInstallScript?: boolean }>;
  };
  const installed = Object.entries(lock.packages).filter(([path]) => path !== '');
  const nameOf = (path: string): string => path.slice(path.lastIndexOf('node_modules/') + 13);

  it('holds no package whose engines.node excludes a Node the package supports', () => {
    assert.ok(installed.length > 50, `only ${installed.length} packages in package-lock.json`);
    const excluding: string[] = [];
    for (const [path, entry] of installed) {
      const engines = entry.engines as { node?: unknown } | undefined;
      if (typeof engines !== 'object' || engines === null || typeof engines.node !== 'string') continue;
      // Every Node from the package's own minimum on must be accepted, or `npm ci` warns EBADENGINE.
      if (!semver.subset(pkg.engines.node, engines.node)) {
        excluding.push(`${nameOf(path)}@${entry.version} requires node ${engines.node}`);
      }
    }
    assert.deepEqual(excluding, [], `these exclude node ${pkg.engines.node}`);
  });

  it('names every dependency with an install script in allowScripts, so npm ci has nothing to report', () => {
    const withScripts = installed
      .filter(([, entry]) => entry.hasInstallScript === true)
      .map(([p]) => nameOf(p));
    const allowed = Object.keys(pkg.allowScripts ?? {}).map((key) => key.replace(/(.)@.*$/, '$1'));
    assert.deepEqual(
      withScripts.filter((name) => !allowed.includes(name)),
      [],
      'review the install script, then `npm approve-scripts <name>`',
    );
  });
});
