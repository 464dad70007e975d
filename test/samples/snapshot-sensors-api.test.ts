// Runs samples/snapshot-sensors-api as its README says (`node --import tsx samples/snapshot-sensors-api/main.ts`)
// on port 0 and a temporary data directory: readings in, bad bodies refused with problem+json codes, then
// SIGTERM and kill -9 restarts that must serve the same state (and every acknowledged reading).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SENSOR_API_DEFAULT_DATA_DIR } from '../../samples/snapshot-sensors-api/sensor-api.ts';
import { get, post } from '../helpers/server.ts';
import { removeTempDir, tempDir } from '../helpers/temp-dir.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Api {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | string>;
}

const live = new Set<ChildProcess>();

/**
 * Starts the sample and resolves once it prints its URL (it listens only after the restore). With
 * `dataDir` undefined it runs with its default data directory, in the working directory `cwd`.
 */
async function startApi(dataDir: string | undefined, cwd = root): Promise<Api> {
  const options = dataDir === undefined ? [] : ['--data-dir', dataDir, '--partitions', '4'];
  const env = { ...process.env };
  for (const name of ['PORT', 'HOST', 'DATA_DIR']) delete env[name];
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      join(root, 'samples/snapshot-sensors-api/main.ts'),
      '--port',
      '0',
      ...options,
      '--snapshot-interval-ms',
      '60000',
    ],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  let out = '';
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sample did not start:\n${out}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the sample exited with ${code}:\n${out}`));
    });
  });
  return { child, url, output: () => out, exited };
}

interface Stats {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  average: number | null;
}

interface State {
  totals: { readings: number; devices: number; temperature: Stats; humidity: Stats };
  devices: Record<
    string,
    {
      readings: number;
      latest: { temperature: number; humidity: number; timestampUtc: string };
      temperature: Stats;
      humidity: Stats;
    }
  >;
}

const state = async (api: Api): Promise<State> => (await get(`${api.url}/state`)).body as unknown as State;
const metrics = async (api: Api): Promise<Record<string, unknown>> => (await get(`${api.url}/metrics`)).body;

// Values exact in binary floating point, so sums do not depend on the order they are added in.
const readings = [
  { deviceId: 'dev-a', temperature: 20.5, humidity: 40, timestampUtc: '2026-01-01T10:00:00Z' },
  { deviceId: 'dev-a', temperature: 22.25, humidity: 42, timestampUtc: '2026-01-01T12:00:00+02:00' },
  { deviceId: 'dev-a', temperature: -3.75, humidity: 55.5, timestampUtc: '2026-01-01T09:00:00Z' },
  { deviceId: 'dev-b', temperature: 18, humidity: 61.25, timestampUtc: '2026-01-01T08:30:00.250Z' },
  { deviceId: 'dev-c.kitchen', temperature: 24.5, humidity: 35 },
];

describe('samples/snapshot-sensors-api', () => {
  let dataDir: string;
  let api: Api;
  let saved: State;

  before(async () => {
    dataDir = await tempDir('lfes-sensors-api-');
    api = await startApi(dataDir);
  });

  after(async () => {
    for (const child of live) child.kill('SIGKILL');
  });

  it('starts empty on a fresh data directory', async () => {
    assert.match(api.output(), /^\[BOOT\] partitions restored from snapshot: 0$/m);
    const m = await metrics(api);
    assert.equal(m.restoredPartitions, 0);
    assert.equal(m.eventsStored, 0);
  });

  it('accepts valid readings with 202 and a Location that answers', async () => {
    for (const r of readings) {
      const res = await post(`${api.url}/sensor`, r);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.headers.get('location'), `/sensor/${r.deviceId}`);
    }
    // Concurrent posts are all acknowledged and all stored.
    const burst = Array.from({ length: 40 }, (_, i) => ({
      deviceId: `dev-burst-${i % 4}`,
      temperature: i,
      humidity: 50,
      timestampUtc: new Date(Date.UTC(2026, 0, 2, 0, 0, i)).toISOString(),
    }));
    const answers = await Promise.all(burst.map((r) => post(`${api.url}/sensor`, r)));
    assert.deepEqual(
      answers.map((a) => a.status),
      burst.map(() => 202),
    );
    const a = await get(`${api.url}/sensor/dev-a`);
    assert.equal(a.status, 200);
    assert.equal(a.body.readings, 3);
    // The latest by event time: 12:00+02:00 is 10:00Z, later than 09:00Z (posted after it).
    assert.deepEqual(a.body.latest, {
      temperature: 22.25,
      humidity: 42,
      timestampUtc: '2026-01-01T10:00:00.000Z',
    });
    const missing = await get(`${api.url}/sensor/nobody`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'SENSOR_ERR_DEVICE_NOT_FOUND');
  });

  it('refuses bad requests with problem+json and a stable code, storing nothing', async () => {
    const initial = await metrics(api);
    const ok = { deviceId: 'dev-x', temperature: 20, humidity: 50 };
    const cases: Array<{ body: unknown; code: string; fields?: string[]; headers?: Record<string, string> }> =
      [
        { body: '{"deviceId": "dev-x",', code: 'SENSOR_ERR_INVALID_JSON' },
        { body: '', code: 'SENSOR_ERR_INVALID_JSON' },
        { body: [ok], code: 'SENSOR_ERR_NOT_AN_OBJECT', fields: [''] },
        { body: { ...ok, deviceId: '' }, code: 'SENSOR_ERR_INVALID_DEVICE_ID', fields: ['deviceId'] },
        { body: { ...ok, deviceId: 'a/b' }, code: 'SENSOR_ERR_INVALID_DEVICE_ID', fields: ['deviceId'] },
        {
          body: { ...ok, temperature: '20' },
          code: 'SENSOR_ERR_INVALID_TEMPERATURE',
          fields: ['temperature'],
        },
        { body: '{"deviceId":"d","temperature":1e999,"humidity":5}', code: 'SENSOR_ERR_INVALID_TEMPERATURE' },
        { body: { ...ok, humidity: 100.5 }, code: 'SENSOR_ERR_INVALID_HUMIDITY', fields: ['humidity'] },
        { body: { ...ok, timestampUtc: '2026-01-01T10:00:00' }, code: 'SENSOR_ERR_INVALID_TIMESTAMP' },
        { body: { ...ok, timestampUtc: '2026-02-30T10:00:00Z' }, code: 'SENSOR_ERR_INVALID_TIMESTAMP' },
        { body: { ...ok, timestampUtc: 1767261600000 }, code: 'SENSOR_ERR_INVALID_TIMESTAMP' },
        { body: { ...ok, temp: 3 }, code: 'SENSOR_ERR_UNKNOWN_FIELD', fields: ['temp'] },
        {
          body: { deviceId: 7, humidity: -1 },
          code: 'SENSOR_ERR_INVALID_DEVICE_ID',
          fields: ['deviceId', 'temperature', 'humidity'],
        },
      ];
    for (const c of cases) {
      const res = await post(`${api.url}/sensor`, c.body, c.headers);
      const what = `${JSON.stringify(c.body)} -> ${res.status} ${JSON.stringify(res.body)}`;
      assert.equal(res.status, 400, what);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', what);
      assert.equal(res.body.code, c.code, what);
      assert.equal(typeof res.body.detail, 'string', what);
      if (c.fields !== undefined) {
        const errors = res.body.errors as Array<{ field: string; code: string }>;
        assert.deepEqual(
          errors.map((e) => e.field),
          c.fields,
          what,
        );
      }
    }
    const text = await post(`${api.url}/sensor`, JSON.stringify(ok), { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal(text.body.code, 'SENSOR_ERR_UNSUPPORTED_MEDIA_TYPE');
    const big = await post(`${api.url}/sensor`, { ...ok, deviceId: 'x'.repeat(20_000) });
    assert.equal(big.status, 413);
    assert.equal(big.body.code, 'SENSOR_ERR_PAYLOAD_TOO_LARGE');
    const wrongMethod = await fetch(`${api.url}/sensor`, { method: 'PUT' });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    assert.equal((await get(`${api.url}/nowhere`)).body.code, 'SENSOR_ERR_NOT_FOUND');

    const afterwards = await metrics(api);
    assert.equal(afterwards.eventsStored, initial.eventsStored);
    assert.equal(afterwards.readingsAccepted, initial.readingsAccepted);
  });

  it('GET /state aggregates per device and in total', async () => {
    const s = await state(api);
    assert.equal(s.totals.readings, readings.length + 40);
    assert.equal(s.totals.devices, 3 + 4);
    assert.deepEqual(s.devices['dev-a']!.temperature, {
      count: 3,
      sum: 39,
      min: -3.75,
      max: 22.25,
      average: 13,
    });
    assert.deepEqual(s.devices['dev-b']!.humidity, {
      count: 1,
      sum: 61.25,
      min: 61.25,
      max: 61.25,
      average: 61.25,
    });
    // dev-burst-1 got temperatures 1, 5, 9, …, 37.
    assert.deepEqual(s.devices['dev-burst-1']!.temperature, {
      count: 10,
      sum: 190,
      min: 1,
      max: 37,
      average: 19,
    });
    assert.equal(s.totals.temperature.sum, 39 + 18 + 24.5 + (39 * 40) / 2);
    assert.equal(s.totals.humidity.max, 61.25);
    saved = s;
  });

  it('SIGTERM writes a final snapshot; the restart restores it before serving', {
    timeout: 60_000,
  }, async () => {
    api.child.kill('SIGTERM');
    assert.equal(await api.exited, 0, api.output());
    assert.match(api.output(), /^\[EXIT\] readings held: 45; snapshots written: [1-4], failed: 0/m);

    api = await startApi(dataDir);
    // The first request after the listen line already sees the restored state.
    assert.deepEqual(await state(api), saved);
    const m = await metrics(api);
    assert.ok((m.restoredPartitions as number) > 0, JSON.stringify(m));
    assert.equal(m.eventsStored, 45);
    assert.equal(m.journalRecordsReplayed, 0);
    assert.match(
      api.output(),
      new RegExp(`^\\[BOOT\\] partitions restored from snapshot: ${m.restoredPartitions}$`, 'm'),
    );
  });

  it('kill -9 loses no acknowledged reading', { timeout: 60_000 }, async () => {
    const late = [
      { deviceId: 'dev-a', temperature: 30, humidity: 30, timestampUtc: '2026-01-03T00:00:00Z' },
      { deviceId: 'dev-d', temperature: 10, humidity: 90 },
    ];
    for (const r of late) assert.equal((await post(`${api.url}/sensor`, r)).status, 202);
    api.child.kill('SIGKILL');
    assert.equal(await api.exited, 'SIGKILL');

    api = await startApi(dataDir);
    const s = await state(api);
    assert.equal(s.totals.readings, 47);
    assert.equal(s.devices['dev-a']!.readings, 4);
    assert.deepEqual(s.devices['dev-a']!.latest, {
      temperature: 30,
      humidity: 30,
      timestampUtc: '2026-01-03T00:00:00.000Z',
    });
    assert.equal(s.devices['dev-d']!.temperature.sum, 10);
    assert.deepEqual(s.devices['dev-b'], saved.devices['dev-b']);
    // The two readings came back from the journal: no snapshot was taken after the restart.
    assert.equal((await metrics(api)).journalRecordsReplayed, 2);
  });
});

describe('samples/snapshot-sensors-api default data directory', () => {
  it(`is ${SENSOR_API_DEFAULT_DATA_DIR}, apart from the server's ./data`, { timeout: 60_000 }, async () => {
    const cwd = await tempDir('lfes-sensors-api-cwd-');
    try {
      const api = await startApi(undefined, cwd);
      assert.match(api.output(), /^\[BOOT\] listening on http:\/\/127\.0\.0\.1:\d+ \(data dir (\S+)\)$/m);
      assert.match(
        api.output(),
        new RegExp(`\\(data dir ${SENSOR_API_DEFAULT_DATA_DIR.replaceAll('.', '\\.')}\\)`),
      );
      assert.equal((await post(`${api.url}/sensor`, readings[0])).status, 202);
      api.child.kill('SIGTERM');
      assert.equal(await api.exited, 0, api.output());
      const dir = join(cwd, SENSOR_API_DEFAULT_DATA_DIR);
      const files = await readdir(dir, { recursive: true });
      assert.ok(files.includes('journal'), `the journal is in ${dir}: ${files.join(', ')}`);
      assert.ok(
        files.some((f) => f.endsWith('.snap')),
        `the final snapshot is in ${dir}: ${files.join(', ')}`,
      );
      assert.deepEqual(await readdir(cwd), ['sample-data'], 'nothing else is written, no ./data');
    } finally {
      await removeTempDir(cwd);
    }
  });
});
