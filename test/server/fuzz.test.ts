// T28: fast-check-generated malformed requests (bad JSON, content types, headers, query parameters,
// stream names, methods) against a real server: never a 5xx, never a change to the store. 10,000
// requests by default (~10 s); LFES_FUZZ_RUNS and LFES_FUZZ_SEED override the count and replay a seed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { post, type RunningServer, startServer } from '../helpers/server.ts';

let s: RunningServer;
before(async () => {
  s = await startServer({ maxBodyBytes: 2048 });
  await post(`${s.url}/streams/existing`, [{ v: 1 }, { v: 2 }]);
});
after(async () => {
  await s.cleanup();
});

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

const validName = fc.constantFrom('existing', 'fresh', 'a/b', 'x.y~z');
const badName = fc.oneof(
  fc.constantFrom('a//b', 'a/', '%2F', 'sp%20ace', '%C3%A9', '%ZZ', 'q%00', `${'n'.repeat(201)}`, 'a%2F%2Fb'),
  fc.string({ minLength: 1, maxLength: 20 }).map((t) => `bad${encodeURIComponent(`${t}!`)}`),
);
const badInteger = fc.oneof(
  fc.constantFrom(
    '-2',
    '1.5',
    'abc',
    '',
    '1e3',
    '0x10',
    '99999999999999999999',
    'NaN',
    'Infinity',
    '+1',
    '01',
  ),
  // (-1 is a valid Expected-Version; HTTP strips the spaces around header values.)
  fc.string({ maxLength: 8 }).filter((t) => !/^-?(0|[1-9][0-9]*)$/.test(t.trim())),
);
const anyJson = fc.json({ maxDepth: 3 });
const badJson = fc.oneof(
  fc.constantFrom('{', '[1,', '{"a":}', 'undefined', "{'a':1}", 'NaN', '[1]]', '\u0000'),
  // One line: NDJSON parses each line on its own.
  fc.string({ maxLength: 30 }).filter((t) => {
    if (t.includes('\n')) return false;
    try {
      JSON.parse(t);
      return false;
    } catch {
      return t.trim() !== '';
    }
  }),
);
const huge = fc.constantFrom('9'.repeat(400), `[${'1e999,'.repeat(10)}1]`, `{"v":${'9'.repeat(5000)}}`);

/** Requests that are wrong in at least one way, so none of them may change the store. */
const malformedAppend: fc.Arbitrary<FuzzRequest> = fc.oneof(
  // A bad name with an otherwise fine request.
  fc.record({ name: badName, body: anyJson }).map(({ name, body }) => ({
    method: 'POST',
    path: `/streams/${name}`,
    headers: { 'content-type': 'application/json' },
    body,
  })),
  // A wrong content type.
  fc
    .record({
      name: validName,
      type: fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data', 'application/jsonx', ''),
      body: anyJson,
    })
    .map(({ name, type, body }) => ({
      method: 'POST',
      path: `/streams/${name}`,
      headers: type === '' ? {} : { 'content-type': type },
      body,
    })),
  // Bad JSON / NDJSON or an empty body.
  fc
    .record({
      name: validName,
      type: fc.constantFrom('application/json', 'application/x-ndjson'),
      body: fc.oneof(badJson, fc.constantFrom('', ' ', '\n\n')),
    })
    .map(({ name, type, body }) => ({
      method: 'POST',
      path: `/streams/${name}`,
      headers: { 'content-type': type },
      body,
    })),
  validName.map((name) => ({
    method: 'POST',
    path: `/streams/${name}`,
    headers: { 'content-type': 'application/json' },
    body: '[]',
  })),
  // Bad headers.
  fc
    .record({
      name: validName,
      body: anyJson,
      header: fc.oneof(
        badInteger.map((v) => ({ 'expected-version': v })),
        badInteger.map((v) => ({ 'producer-id': 'p', 'producer-epoch': v, 'producer-seq': '0' })),
        badInteger.map((v) => ({ 'producer-id': 'p', 'producer-epoch': '1', 'producer-seq': v })),
        fc.constantFrom(
          { 'producer-id': 'p' },
          { 'producer-seq': '1' },
          { 'producer-id': '', 'producer-epoch': '1', 'producer-seq': '0' },
        ),
        fc.constantFrom({ 'expected-version': '5' }, { 'expected-version': '123456789' }),
      ),
    })
    .map(({ name, body, header }) => ({
      method: 'POST',
      path: `/streams/${name}`,
      headers: { 'content-type': 'application/json', ...header },
      body,
    })),
  // A bad capacity, a huge body or a huge number.
  fc.record({ name: validName, cap: badInteger }).map(({ name, cap }) => ({
    method: 'POST',
    path: `/streams/${name}?capacity=${encodeURIComponent(cap)}`,
    headers: { 'content-type': 'application/json' },
    body: '1',
  })),
  fc.record({ name: validName, body: huge }).map(({ name, body }) => ({
    method: 'POST',
    path: `/streams/${name}`,
    headers: { 'content-type': 'application/json', 'expected-version': '99999' },
    body,
  })),
);

const malformedOther: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc
    .record({
      name: fc.oneof(validName, badName),
      param: fc.constantFrom('from', 'limit', 'wait'),
      value: badInteger,
    })
    .map(({ name, param, value }) => ({
      method: 'GET',
      path: `/streams/${name}?${param}=${encodeURIComponent(value)}`,
      headers: {},
      body: undefined,
    })),
  fc
    .record({
      name: validName,
      query: fc.constantFrom(
        'aggregate=true',
        'aggregate=no&field=v',
        'aggregate=true&field=',
        'aggregate=true&field=v&from=tomorrow',
        'aggregate=true&field=v&to=1e3',
        'aggregate=true&field=..',
      ),
    })
    .map(({ name, query }) => ({
      method: 'GET',
      path: `/streams/${name}?${query}`,
      headers: {},
      body: undefined,
    })),
  fc
    .record({ name: fc.oneof(badName, fc.constantFrom('missing', 'never/here')) })
    .map(({ name }) => ({ method: 'DELETE', path: `/streams/${name}`, headers: {}, body: undefined })),
  fc
    .record({
      method: fc.constantFrom('PUT', 'PATCH', 'OPTIONS'),
      path: fc.constantFrom('/streams/existing', '/streams', '/health', '/stats', '/nope', '/'),
    })
    .map(({ method, path }) => ({ method, path, headers: {}, body: '1' })),
  fc.record({ name: fc.oneof(validName, badName), id: badInteger }).map(({ name, id }) => ({
    method: 'GET',
    path: `/streams/${name}`,
    headers: { accept: 'text/event-stream', 'last-event-id': id.replace(/[\r\n]/g, '') || 'x' },
    body: undefined,
  })),
);

describe('malformed requests (property)', () => {
  it('never answer 5xx and never change the store', async (t) => {
    const store = s.server.store;
    const before = { streams: store.streamCount, events: store.eventCount() };
    const seed = Number(process.env.LFES_FUZZ_SEED ?? Date.now() % 2 ** 31);
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(malformedAppend, malformedOther), async (r) => {
        const init: RequestInit = { method: r.method, headers: r.headers };
        if (r.body !== undefined) init.body = r.body;
        const res = await fetch(`${s.url}${r.path}`, init);
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        assert.ok(res.status >= 400 && res.status < 500, `${r.method} ${r.path} -> ${res.status}`);
        const changed = { streams: store.streamCount, events: store.eventCount() };
        assert.deepEqual(changed, before, `${JSON.stringify(r).slice(0, 300)} changed the store`);
      }),
      { seed, numRuns: Number(process.env.LFES_FUZZ_RUNS ?? 10_000) },
    );
    const health = await fetch(`${s.url}/health`);
    assert.equal(health.status, 200);
    assert.ok(statuses.size >= 5, `statuses seen: ${JSON.stringify([...statuses])} (seed ${seed})`);
    const byStatus = [...statuses].sort(([a], [b]) => a - b).map(([k, n]) => `${k}: ${n}`);
    t.diagnostic(`seed ${seed}; answers by status: ${byStatus.join(', ')}; store unchanged`);
  });
});
