// Details a newcomer meets: CORS origins, reading a stream before its producer starts, tail starts,
// query parameters in their own words, GET /streams paging, and a clean start and stop of `serve`.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EventStoreClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/errors.ts';
import { createServer } from '../../src/server/index.ts';
import { get, post, problem, type RunningServer, startServer } from '../helpers/server.ts';
import { spawnServer } from '../helpers/server-process.ts';
import { removeTempDir, tempDir } from '../helpers/temp-dir.ts';

const running: RunningServer[] = [];
after(async () => {
  for (const s of running) await s.cleanup();
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const s = await startServer(options);
  running.push(s);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CORS origins', () => {
  it('refuses an origin with a path or trailing slash, and * mixed with origins, naming the option', () => {
    for (const bad of [
      'http://a.example/',
      'http://a.example/app',
      'a.example',
      '*,http://a.example',
      'ftp://a.example',
    ]) {
      assert.throws(
        () => createServer({ corsOrigin: bad }),
        (err: { code?: string; message?: string }) =>
          err.code === ErrorCode.INVALID_ARG && (err.message ?? '').includes('`corsOrigin`'),
        bad,
      );
    }
  });

  it('answers a list of origins with the one origin of the request and Vary: Origin', async () => {
    const s = await server({ corsOrigin: 'http://a.example, http://b.example:8080' });
    for (const origin of ['http://a.example', 'http://b.example:8080']) {
      const r = await fetch(`${s.url}/health`, { headers: { origin } });
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
      assert.match(r.headers.get('vary') ?? '', /origin/i);
    }
    const other = await fetch(`${s.url}/health`, { headers: { origin: 'http://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const pre = await fetch(`${s.url}/streams/x`, {
      method: 'OPTIONS',
      headers: { origin: 'http://b.example:8080', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://b.example:8080');
  });
});

describe('reading before the producer starts', () => {
  it('long-polls a stream that does not exist yet until its first append', async () => {
    const s = await server();
    const poll = get(`${s.url}/streams/later?wait=10000`);
    await sleep(200);
    assert.equal((await post(`${s.url}/streams/later`, { first: true })).status, 201);
    const r = await poll;
    assert.equal(r.status, 200);
    assert.deepEqual(
      (r.body.events as { data: unknown }[]).map((e) => e.data),
      [{ first: true }],
    );
  });

  it('answers 404 after the wait when the stream never comes, and at once without a wait', async () => {
    const s = await server();
    const startedAt = Date.now();
    problem(await get(`${s.url}/streams/never?wait=300`), 404, ErrorCode.STREAM_NOT_FOUND);
    assert.ok(Date.now() - startedAt >= 250, 'it waited');
    problem(await get(`${s.url}/streams/never`), 404, ErrorCode.STREAM_NOT_FOUND);
  });

  it('subscribes to a stream that does not exist yet, and from=now skips what came before', async () => {
    const s = await server();
    const es = new EventStoreClient(s.url);
    const ac = new AbortController();
    const seen: unknown[] = [];
    const early = (async () => {
      try {
        for await (const ev of es.subscribe('tail/new', { signal: ac.signal })) {
          seen.push(ev.data);
          if (seen.length === 2) ac.abort();
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err;
      }
    })();
    await sleep(200);
    await es.append('tail/new', 'a');
    await es.append('tail/new', 'b');
    await early;
    assert.deepEqual(seen, ['a', 'b']);

    // A tail from now sees only what comes after it started.
    const ac2 = new AbortController();
    const tail: unknown[] = [];
    const tailing = (async () => {
      try {
        for await (const ev of es.subscribe('tail/new', { from: 'now', signal: ac2.signal })) {
          tail.push(ev.data);
          ac2.abort();
        }
      } catch (err) {
        if (!ac2.signal.aborted) throw err;
      }
    })();
    await sleep(200);
    await es.append('tail/new', 'c');
    await tailing;
    assert.deepEqual(tail, ['c']);
  });

  it('reads from=now as the end of the stream, and long-polls from there for the next events', async () => {
    const s = await server();
    await post(`${s.url}/streams/now`, [1, 2, 3]);
    const empty = await get(`${s.url}/streams/now?from=now`);
    assert.deepEqual(empty.body.events, []);
    assert.equal(empty.body.nextOffset, 3);
    const poll = get(`${s.url}/streams/now?from=now&wait=10000`);
    await sleep(150);
    await post(`${s.url}/streams/now`, [4]);
    assert.deepEqual(
      ((await poll).body.events as { data: unknown }[]).map((e) => e.data),
      [4],
    );
  });
});

describe('parameters in their own words', () => {
  it('takes aggregate=true, 1, yes, on or empty, and names them when refusing another value', async () => {
    const s = await server();
    await post(`${s.url}/streams/agg`, [{ v: 1 }, { v: 2 }]);
    for (const flag of ['true', '1', 'yes', 'on', '', 'TRUE']) {
      const r = await get(`${s.url}/streams/agg?aggregate=${flag}&field=v`);
      assert.equal(r.status, 200, flag);
      assert.equal(r.body.sum, 3);
    }
    const no = await get(`${s.url}/streams/agg?aggregate=no&field=v`);
    problem(no, 400, ErrorCode.BAD_REQUEST);
    assert.match(no.body.detail as string, /true, 1, yes, on or empty/);
  });

  it('says Expected-Version is an integer >= -1', async () => {
    const s = await server();
    const r = await post(`${s.url}/streams/ev`, 1, { 'expected-version': '-2' });
    problem(r, 400, ErrorCode.BAD_REQUEST);
    assert.match(r.body.detail as string, /integer >= -1/);
    assert.equal((await post(`${s.url}/streams/ev`, 1, { 'expected-version': '-1' })).status, 201);
  });

  it('refuses a query parameter a route does not take, naming the ones it takes', async () => {
    const s = await server();
    await post(`${s.url}/streams/p`, 1);
    const r = await get(`${s.url}/streams/p?form=0`);
    problem(r, 400, ErrorCode.BAD_REQUEST);
    assert.match(r.body.detail as string, /unknown query parameter "form"; a read takes from, limit, wait/);
    problem(await get(`${s.url}/streams?prefixx=a`), 400, ErrorCode.BAD_REQUEST);
  });

  it('lists streams by prefix, page by page', async () => {
    const s = await server();
    for (const name of ['app/a', 'app/b', 'app/c', 'other/x']) await post(`${s.url}/streams/${name}`, 1);
    const first = await get(`${s.url}/streams?prefix=app/&limit=2`);
    assert.deepEqual(
      (first.body.streams as { name: string }[]).map((x) => x.name),
      ['app/a', 'app/b'],
    );
    assert.equal(first.body.nextAfter, 'app/b');
    const second = await get(`${s.url}/streams?prefix=app/&limit=2&after=app/b`);
    assert.deepEqual(
      (second.body.streams as { name: string }[]).map((x) => x.name),
      ['app/c'],
    );
    assert.equal(second.body.nextAfter, undefined);
    const es = new EventStoreClient(s.url);
    assert.deepEqual(
      (await es.streams({ prefix: 'app/' })).map((x) => x.name),
      ['app/a', 'app/b', 'app/c'],
    );
  });
});

describe('serve on the command line', () => {
  it('writes only JSON log lines to stdout and its banner to stderr', async () => {
    const dir = await tempDir('lfes-stdout-');
    const s = await spawnServer(['--data-dir', dir, '--log-level', 'info']);
    let stdout = '';
    s.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    await post(`${s.url}/streams/log`, 1);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    const lines = stdout.split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 0, 'pino logged on stdout');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    await removeTempDir(dir);
  });

  it('says a port is in use and leaves no lock or new data directory behind', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const parent = await tempDir('lfes-inuse-');
    const dataDir = join(parent, 'data');
    try {
      const root = fileURLToPath(new URL('../../', import.meta.url));
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', String(port), '--data-dir', dataDir],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.doesNotMatch(stderr, /EADDRINUSE.*\n\s+at /, 'no stack trace');
      assert.equal(existsSync(dataDir), false, 'the data directory it created is gone');
    } finally {
      blocker.close();
      await removeTempDir(parent);
    }
  });
});
