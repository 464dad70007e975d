import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { tempDir } from './helpers/temp-dir.ts';

const root = new URL('../', import.meta.url);
const rootDir = fileURLToPath(root);
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

  it("links node_modules/.bin/tsc to the project's TypeScript, not an older one kept for the type tests", () => {
    const tsc = realpathSync(join(rootDir, 'node_modules', '.bin', 'tsc'));
    assert.equal(
      relative(join(rootDir, 'node_modules'), tsc),
      join('typescript', 'bin', 'tsc'),
      'an aliased typescript-x.y took the tsc bin: run `npm ci`',
    );
  });
});

/**
 * A consumer project that installs the built package (package.json + dist/, as `npm pack` ships
 * them) and its runtime dependencies, compiled with an older TypeScript in node16 resolution,
 * through the package's `exports`, checking every declaration file (`skipLibCheck: false`).
 */
describe('the shipped type declarations', () => {
  const CORE_AND_CLIENT = `import { ColumnarEventStore, EventStore, type WindowResult } from 'lockfree-eventstore';
import { type AppendResult, EventStoreClient } from 'lockfree-eventstore/client';

/** true only when T is \`any\`, as every type is when a declaration file does not resolve. */
type IsAny<T> = 0 extends 1 & T ? true : false;

interface Order {
  id: string;
  valor: number;
  timestamp: number;
}
const store = new EventStore<Order>({
  capacity: 100,
  timestampSelector: (o) => o.timestamp,
  window: { sizeMs: 60_000, value: (o) => o.valor },
});
store.tryAppend({ id: 'o-1', valor: 1, timestamp: 0 });
// @ts-expect-error valor is a number
store.tryAppend({ id: 'o-2', valor: 'one', timestamp: 0 });
const stats: WindowResult = store.window({ from: 0 });
const total: number = store.sum((o) => o.valor, { from: new Date(0) });
const storeIsAny: IsAny<typeof store> = false;

const columnar = ColumnarEventStore.create({
  columns: { value: 'f64', label: 'key' },
  capacityPerPartition: 16,
  partitions: 1,
});
const columnarSum: number = columnar.sum('value');
// @ts-expect-error the schema has no column 'price'
columnar.sum('price');
const columnarIsAny: IsAny<typeof columnar> = false;

const client = new EventStoreClient('http://127.0.0.1:7070');
const appended: Promise<AppendResult> = client.append('gateway/orders', { id: 'o-1' });
// @ts-expect-error a stream name is a string
client.append(42, { id: 'o-1' });
const clientIsAny: IsAny<typeof client> = false;

export { appended, clientIsAny, columnarIsAny, columnarSum, stats, storeIsAny, total };
`;

  const SERVER = `import { createServer, type EventStoreServer } from 'lockfree-eventstore/server';

const server: EventStoreServer = createServer({ port: 0, dataDir: './data', fsync: 'always' });
const url: Promise<string> = server.listen();
// @ts-expect-error port is a number
createServer({ port: '7070' });
const serverIsAny: 0 extends 1 & typeof server ? true : false = false;

export { serverIsAny, url };
`;

  /** Lays out the consumer project; returns its directory. */
  async function consumer(sources: Record<string, string>): Promise<string> {
    const dir = await tempDir('lfes-consumer-');
    const modules = join(dir, 'node_modules');
    const installed = join(modules, pkg.name);
    await mkdir(installed, { recursive: true });
    await cp(join(rootDir, 'package.json'), join(installed, 'package.json'));
    await cp(join(rootDir, 'dist'), join(installed, 'dist'), { recursive: true });
    for (const dep of [...Object.keys(pkg.dependencies), '@types/node']) {
      await mkdir(dirname(join(modules, dep)), { recursive: true });
      await symlink(join(rootDir, 'node_modules', dep), join(modules, dep), 'dir');
    }
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    const compilerOptions = {
      target: 'ES2022',
      module: 'node16',
      moduleResolution: 'node16',
      strict: true,
      skipLibCheck: false,
      noEmit: true,
      types: ['node'],
    };
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, files: Object.keys(sources) }),
    );
    for (const [name, text] of Object.entries(sources)) await writeFile(join(dir, name), text);
    return dir;
  }

  /** Runs the aliased compiler (devDependency `typescript-<version>`) on the project. */
  function compile(version: string, dir: string): { status: number | null; output: string } {
    const compiler = join(rootDir, 'node_modules', `typescript-${version}`);
    const installedVersion = (
      JSON.parse(readFileSync(join(compiler, 'package.json'), 'utf8')) as { version: string }
    ).version;
    assert.ok(installedVersion.startsWith(`${version}.`), `typescript-${version} is ${installedVersion}`);
    const r = spawnSync(process.execPath, [join(compiler, 'lib', 'tsc.js'), '-p', dir], { encoding: 'utf8' });
    return { status: r.status, output: `TypeScript ${installedVersion}:\n${r.stdout}${r.stderr}` };
  }

  it('compile with TypeScript 4.9 for the library and the client (EventStore, ColumnarEventStore, EventStoreClient)', async () => {
    const r = compile('4.9', await consumer({ 'consumer.ts': CORE_AND_CLIENT }));
    assert.equal(r.status, 0, r.output);
  });

  it('compile with TypeScript 5.0 for every entry point, the server included', async () => {
    const r = compile('5.0', await consumer({ 'consumer.ts': CORE_AND_CLIENT, 'server.ts': SERVER }));
    assert.equal(r.status, 0, r.output);
  });

  it('are read as types, not any: a wrong argument is an error', async () => {
    const wrong = CORE_AND_CLIENT.replace('// @ts-expect-error a stream name is a string\n', '');
    assert.notEqual(wrong, CORE_AND_CLIENT);
    const r = compile('4.9', await consumer({ 'consumer.ts': wrong }));
    assert.notEqual(r.status, 0, r.output);
    assert.match(
      r.output,
      /consumer\.ts\(\d+,\d+\): error TS2345: Argument of type 'number' is not assignable to parameter of type 'string'/,
    );
  });

  it('would fail TypeScript 4.9 if a declaration imported a .ts path', async () => {
    const dir = await consumer({ 'consumer.ts': CORE_AND_CLIENT });
    const index = join(dir, 'node_modules', pkg.name, 'dist', 'index.d.ts');
    const text = await readFile(index, 'utf8');
    const broken = text.replace(
      "export { ColumnarEventStore, ColumnarStatistics } from './columnar/columnar-event-store.js';",
      "export { ColumnarEventStore, ColumnarStatistics } from './columnar/columnar-event-store.ts';",
    );
    assert.notEqual(broken, text, 'dist/index.d.ts no longer has the line this check edits');
    await writeFile(index, broken);
    const r = compile('4.9', dir);
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /error TS2691/);
  });

  it('import only .js paths, and every source map carries the source it maps', async () => {
    const files = (await readdir(join(rootDir, 'dist'), { recursive: true })).map((f) =>
      join(rootDir, 'dist', f),
    );
    const declarations = files.filter((f) => f.endsWith('.d.ts'));
    const maps = files.filter((f) => f.endsWith('.js.map'));
    assert.ok(
      declarations.length > 20 && maps.length === declarations.length,
      `${declarations.length} / ${maps.length}`,
    );
    for (const file of declarations) {
      const text = await readFile(file, 'utf8');
      assert.doesNotMatch(text, /from '\.{1,2}\/[^']*\.ts'/, `${relative(rootDir, file)} imports a .ts path`);
    }
    for (const file of maps) {
      const map = JSON.parse(await readFile(file, 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown[];
      };
      assert.equal(map.sources.length, 1, file);
      assert.ok(Array.isArray(map.sourcesContent), `${relative(rootDir, file)} has no sourcesContent`);
      const source = join(dirname(file), map.sources[0]!);
      assert.equal(
        map.sourcesContent[0],
        await readFile(source, 'utf8'),
        `${relative(rootDir, file)} vs its source`,
      );
    }
  });
});
