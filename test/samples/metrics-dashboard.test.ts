// Runs samples/metrics-dashboard the way its README says (tsx main.ts, here on port 0) and checks it
// over HTTP and in real headless Chromium (playwright-core): the charts and the table must show what
// the API answers, and follow new metrics without a reload. Saves test-artifacts/metrics-dashboard.png.
// Without Chromium the page tests are skipped, with its install command (under CI they fail).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { get, post, problem } from '../helpers/server.ts';
import { CHROMIUM, systemProgram } from '../helpers/system-programs.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** `chromiumProgram.skip`: why the page tests are skipped (outside CI, without Chromium), else false. */
const chromiumProgram = systemProgram(CHROMIUM);
const SCREENSHOT = join(root, 'test-artifacts', 'metrics-dashboard.png');
const MAX_BODY_BYTES = 4096;
/** The sample's default chart bucket: a 5-minute window over 60 buckets. */
const BUCKET_MS = 5_000;
const WAIT_MS = 30_000;

interface Aggregate {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  average: number | null;
}

interface WindowBody extends Aggregate {
  fromMs: number;
  toMs: number;
  labels: Record<string, Aggregate>;
  buckets: { bucketMs: number; bucketStartMs: number[]; series: Record<string, { count: number[] }> };
}

/** What app.js exposes as `window.dashboard`, as far as the test reads it. */
interface DashboardGlobal {
  dashboard?: {
    updates: number;
    last: WindowBody | null;
    charts: Record<string, { data: Array<Array<number | null>> }>;
  };
  sameDocument?: boolean;
}

let child: ChildProcess;
let exited: Promise<number | string>;
let url = '';
let output = '';

before(async () => {
  const env = { ...process.env };
  delete env.PORT;
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'samples/metrics-dashboard/main.ts',
      '--port',
      '0',
      '--max-body-bytes',
      `${MAX_BODY_BYTES}`,
    ],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sample did not start: ${output}`)), WAIT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the sample exited with ${code}: ${output}`));
    });
  });
});

after(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
});

async function sumOf(label: string, query = ''): Promise<{ count: number; sum: number }> {
  const r = await get(`${url}/metrics/sum?label=${encodeURIComponent(label)}${query}`);
  assert.equal(r.status, 200, r.text);
  return r.body as unknown as { count: number; sum: number };
}

async function windowOf(query = ''): Promise<WindowBody> {
  const r = await get(`${url}/metrics/window${query}`);
  assert.equal(r.status, 200, r.text);
  return r.body as unknown as WindowBody;
}

/** The numbers of one table row: `data-value` (exact) and the text shown. */
async function tableRow(page: Page, label: string) {
  const row = page.locator(`#metrics-rows tr[data-label="${label}"]`);
  const cell = (field: string) => row.locator(`td[data-field="${field}"]`);
  return {
    count: Number(await cell('count').getAttribute('data-value')),
    sum: Number(await cell('sum').getAttribute('data-value')),
    countText: await cell('count').textContent(),
    sumText: await cell('sum').textContent(),
  };
}

describe('metrics dashboard page in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const foreignRequests: string[] = [];
  const now = Date.now();
  // Three points per label, 20 s apart: three different chart buckets, well inside the 5-minute window.
  const points: Record<string, number[]> = {
    'web-cpu': [12.5, 40, 73],
    'web-mem': [512, 640, 700],
    'web-disk': [3, 4, 5],
  };
  const times = [now - 50_000, now - 30_000, now - 10_000];

  before(async () => {
    if (chromiumProgram.skip) return; // each test below reports itself skipped, with the install command
    browser = await chromium.launch({
      executablePath: chromiumProgram.path(), // throws, naming Chromium and its install command, if missing
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(url) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
    });
  });

  after(async () => {
    await browser?.close();
  });

  it('loads the page with uPlot served by the sample, and polls before any metric exists', async (t: TestContext) => {
    if (chromiumProgram.skip) return t.skip(chromiumProgram.skip);
    const res = await page.goto(url);
    assert.equal(res?.status(), 200);
    await page.waitForFunction(() => ((globalThis as DashboardGlobal).dashboard?.updates ?? 0) >= 1, null, {
      timeout: WAIT_MS,
    });
    assert.equal(await page.evaluate(() => typeof (globalThis as { uPlot?: unknown }).uPlot), 'function');
    assert.equal(await page.locator('#empty').isVisible(), true);
  });

  it('draws one chart per label and a table that match /metrics/sum and /metrics/window', async (t: TestContext) => {
    if (chromiumProgram.skip) return t.skip(chromiumProgram.skip);
    const batch = Object.entries(points).flatMap(([label, values]) =>
      values.map((value, i) => ({
        label,
        value,
        timestamp: i === 1 ? new Date(times[i]!).toISOString() : times[i],
      })),
    );
    assert.equal((await post(`${url}/metrics`, batch)).status, 200);
    const labels = Object.keys(points);
    await page.waitForFunction(
      (wanted) => {
        const d = (globalThis as DashboardGlobal).dashboard;
        return wanted.every((l) => d?.last?.labels[l]?.count === 3 && d.charts[l] !== undefined);
      },
      labels,
      { timeout: WAIT_MS },
    );
    const api = await windowOf();
    for (const [label, values] of Object.entries(points)) {
      const expectedSum = values.reduce((a, b) => a + b, 0);
      const data = await page.evaluate(
        (l) => (globalThis as DashboardGlobal).dashboard!.charts[l]!.data,
        label,
      );
      const [xs, averages, counts] = data as [number[], Array<number | null>, number[]];
      // Each point sits alone in its bucket, so the chart's averages are exactly the posted values.
      assert.deepEqual(
        averages.filter((v) => v !== null),
        values,
        `${label} chart series`,
      );
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        3,
      );
      for (const t of times)
        assert.ok(xs.includes((Math.floor(t / BUCKET_MS) * BUCKET_MS) / 1000), `bucket of ${t}`);
      assert.ok((await page.locator(`.chart[data-label="${label}"] canvas`).count()) >= 1, `${label} canvas`);

      const row = await tableRow(page, label);
      const sum = await sumOf(label);
      assert.deepEqual({ count: row.count, sum: row.sum }, { count: 3, sum: expectedSum });
      assert.deepEqual({ count: sum.count, sum: sum.sum }, { count: row.count, sum: row.sum });
      assert.equal(api.labels[label]?.count, row.count);
      assert.equal(api.labels[label]?.sum, row.sum);
      assert.equal(Number(row.countText), row.count);
      assert.equal(Number(row.sumText), row.sum);
    }
    // The footer comes from the store's window buckets, the rows from a scan: they must agree.
    const rowCounts = await page
      .locator('#metrics-rows td[data-field="count"]')
      .evaluateAll((cells) =>
        cells.map((c) => Number((c as unknown as { dataset: { value: string } }).dataset.value)),
      );
    const totalCount = Number(await page.locator('#total-count').getAttribute('data-value'));
    assert.equal(
      totalCount,
      rowCounts.reduce((a, b) => a + b, 0),
    );
    assert.equal(await page.locator('#empty').isVisible(), false);
  });

  it('follows new metrics and new labels live, without reloading the page', async (t: TestContext) => {
    if (chromiumProgram.skip) return t.skip(chromiumProgram.skip);
    await page.evaluate(() => {
      (globalThis as DashboardGlobal).sameDocument = true;
    });
    const before = (await sumOf('web-cpu')).sum;
    const more = [
      { label: 'web-cpu', value: 91, timestamp: Date.now() - 2_000 },
      { label: 'web-cpu', value: 9 },
      { label: 'web-net', value: 250 },
    ];
    assert.equal((await post(`${url}/metrics`, more)).status, 200);
    await page.waitForFunction(
      () => {
        const d = (globalThis as DashboardGlobal).dashboard;
        return d?.last?.labels['web-cpu']?.count === 5 && d.charts['web-net'] !== undefined;
      },
      null,
      { timeout: WAIT_MS },
    );
    assert.equal(await page.evaluate(() => (globalThis as DashboardGlobal).sameDocument), true);
    const cpu = await sumOf('web-cpu');
    assert.equal(cpu.sum, before + 100);
    await page.waitForFunction(
      () => {
        const cell = (
          globalThis as unknown as {
            document: { querySelector(s: string): { dataset: { value: string } } | null };
          }
        ).document.querySelector('#metrics-rows tr[data-label="web-cpu"] td[data-field="count"]');
        return cell?.dataset.value === '5';
      },
      null,
      { timeout: WAIT_MS },
    );
    const row = await tableRow(page, 'web-cpu');
    assert.deepEqual({ count: row.count, sum: row.sum }, { count: cpu.count, sum: cpu.sum });
    const net = await tableRow(page, 'web-net');
    assert.deepEqual({ count: net.count, sum: net.sum }, { count: 1, sum: 250 });
  });

  it('saves a screenshot, made no request outside the sample, and logged no error', async (t: TestContext) => {
    if (chromiumProgram.skip) return t.skip(chromiumProgram.skip);
    mkdirSync(join(root, 'test-artifacts'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(statSync(SCREENSHOT).size > 10_000, 'screenshot written');
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(problems, []);
  });
});

describe('metrics dashboard HTTP API', () => {
  it('sums a label over an inclusive from/to range and over the last minutes', async () => {
    const now = Date.now();
    const at = (minutesAgo: number) => now - minutesAgo * 60_000;
    const r = await post(`${url}/metrics`, [
      { label: 'api-cpu', value: 10, timestamp: at(5) },
      { label: 'api-cpu', value: 20, timestamp: new Date(at(3)).toISOString() },
      { label: 'api-cpu', value: 30, timestamp: at(1) },
      { label: 'api-mem', value: 99, timestamp: at(3) },
    ]);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { appended: 4 });
    assert.deepEqual(await sumOf('api-cpu', `&from=${at(6)}&to=${at(2)}`), {
      label: 'api-cpu',
      fromMs: at(6),
      toMs: at(2),
      count: 2,
      sum: 30,
    });
    // Both bounds are inclusive, and ISO 8601 works as well as epoch ms.
    const iso = await sumOf('api-cpu', `&from=${new Date(at(3)).toISOString()}&to=${at(1)}`);
    assert.equal(iso.sum, 50);
    assert.equal((await sumOf('api-cpu')).sum, 60);
    assert.equal((await sumOf('api-none')).count, 0);
    const win = await get(`${url}/metrics/sum-window?label=api-cpu&minutes=2`);
    assert.equal(win.status, 200);
    assert.equal(win.body.sum, 30);
    assert.equal(win.body.count, 1);
    assert.equal((await get(`${url}/metrics/sum-window?label=api-cpu`)).body.sum, 60);
  });

  it('answers /metrics/window per label and per bucket, for all labels or one', async () => {
    const base = Date.UTC(2010, 0, 1);
    await post(`${url}/metrics`, [
      { label: 'win-a', value: 1, timestamp: base },
      { label: 'win-a', value: 5, timestamp: base + 1_500 },
      { label: 'win-b', value: 7, timestamp: base + 2_500 },
    ]);
    const all = await windowOf(`?from=${base}&to=${base + 2_999}&bucketMs=1000`);
    assert.deepEqual(all.labels, {
      'win-a': { count: 2, sum: 6, min: 1, max: 5, average: 3 },
      'win-b': { count: 1, sum: 7, min: 7, max: 7, average: 7 },
    });
    assert.deepEqual(
      { count: all.count, sum: all.sum, min: all.min, max: all.max },
      { count: 3, sum: 13, min: 1, max: 7 },
    );
    assert.deepEqual(all.buckets.bucketStartMs, [base, base + 1_000, base + 2_000]);
    assert.deepEqual(all.buckets.series['win-a']?.count, [1, 1, 0]);
    assert.deepEqual(all.buckets.series['win-b']?.count, [0, 0, 1]);
    const one = await windowOf(`?label=win-a&from=${base}&to=${base + 2_999}`);
    assert.deepEqual(Object.keys(one.labels), ['win-a']);
    assert.equal(one.sum, 6);
  });

  it('ranks /metrics/top by sum, ties by label, limited to k', async () => {
    const base = Date.UTC(2001, 0, 1);
    const range = `&from=${base}&to=${base + 1_000}`;
    await post(
      `${url}/metrics`,
      [
        ['top-a', 5],
        ['top-b', 30],
        ['top-b', 20],
        ['top-c', 20],
        ['top-d', 20],
      ].map(([label, value], i) => ({ label, value, timestamp: base + i })),
    );
    const top = await get(`${url}/metrics/top?k=3${range}`);
    assert.equal(top.status, 200);
    const entries = top.body.top as Array<{ label: string; sum: number; count: number }>;
    assert.deepEqual(
      entries.map((e) => [e.label, e.sum, e.count]),
      [
        ['top-b', 50, 2],
        ['top-c', 20, 1],
        ['top-d', 20, 1],
      ],
    );
    const defaults = await get(`${url}/metrics/top?${range.slice(1)}`);
    assert.equal(defaults.body.k, 5);
    assert.equal((defaults.body.top as unknown[]).length, 4);
    for (const k of ['0', '101', '1.5', 'abc', '']) {
      const r = await get(`${url}/metrics/top?k=${k}`);
      problem(r, 400, 'ES_ERR_BAD_REQUEST');
      assert.equal(r.body.field, 'k');
    }
  });

  it('rejects bad metrics with 400 problem+json naming the field, and stores nothing of the batch', async () => {
    const cases: Array<[unknown, string]> = [
      [{ value: 1 }, 'label'],
      [{ label: '', value: 1 }, 'label'],
      [{ label: '   ', value: 1 }, 'label'],
      [{ label: 'x'.repeat(65), value: 1 }, 'label'],
      [{ label: 'a\nb', value: 1 }, 'label'],
      [{ label: 7, value: 1 }, 'label'],
      [{ label: 'bad' }, 'value'],
      [{ label: 'bad', value: '5' }, 'value'],
      [{ label: 'bad', value: 1, timestamp: '2024-01-01T00:00:00' }, 'timestamp'],
      [{ label: 'bad', value: 1, timestamp: '2024-02-30T00:00:00Z' }, 'timestamp'],
      [{ label: 'bad', value: 1, timestamp: 'yesterday' }, 'timestamp'],
      [{ label: 'bad', value: 1, timestamp: true }, 'timestamp'],
      [{ label: 'bad', value: 1, timestamp: 1e300 }, 'timestamp'],
      [[], 'body'],
      [42, 'body'],
      [[{ label: 'bad', value: 1 }, null], 'body'],
    ];
    for (const [body, field] of cases) {
      const r = await post(`${url}/metrics`, body);
      problem(r, 400, 'ES_ERR_BAD_REQUEST');
      assert.equal(r.body.field, field, JSON.stringify(body));
    }
    const mixed = await post(`${url}/metrics`, [
      { label: 'atomic', value: 1 },
      { label: 'atomic', value: null },
    ]);
    problem(mixed, 400, 'ES_ERR_BAD_REQUEST');
    assert.deepEqual([mixed.body.field, mixed.body.index], ['value', 1]);
    assert.equal((await sumOf('atomic')).count, 0);
    assert.equal((await sumOf('bad')).count, 0);
    assert.equal((await get(`${url}/metrics/sum?label=x${'x'.repeat(64)}`)).status, 400);
  });

  it('answers 400 for broken JSON, 413 for oversize bodies and 415 for other media types', async () => {
    problem(await post(`${url}/metrics`, '{"label":'), 400, 'ES_ERR_INVALID_JSON');
    problem(await post(`${url}/metrics`, ''), 400, 'ES_ERR_BAD_REQUEST');
    const big = JSON.stringify({ label: 'big', value: 1, pad: 'x'.repeat(MAX_BODY_BYTES) });
    problem(await post(`${url}/metrics`, big), 413, 'ES_ERR_PAYLOAD_TOO_LARGE');
    // Streamed without a Content-Length: the limit is counted as the bytes arrive.
    const chunks = [big.slice(0, 3000), big.slice(3000)];
    const streamed = await fetch(`${url}/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal(((await streamed.json()) as { code: string }).code, 'ES_ERR_PAYLOAD_TOO_LARGE');
    problem(
      await post(`${url}/metrics`, '{"label":"t","value":1}', { 'content-type': 'text/plain' }),
      415,
      'ES_ERR_UNSUPPORTED_MEDIA_TYPE',
    );
    assert.equal((await sumOf('big')).count, 0);
    assert.equal((await sumOf('t')).count, 0);
  });

  it('rejects bad query parameters with 400 naming the parameter', async () => {
    const cases: Array<[string, string]> = [
      ['/metrics/sum', 'label'],
      ['/metrics/sum?label=', 'label'],
      ['/metrics/sum?label=cpu&from=soon', 'from'],
      ['/metrics/sum?label=cpu&to=2024-01-01', 'to'],
      ['/metrics/sum?label=cpu&from=2000&to=1000', 'from'],
      ['/metrics/sum?label=cpu&from=1000&minutes=5', 'minutes'],
      ['/metrics/sum-window?label=cpu&minutes=-1', 'minutes'],
      ['/metrics/sum-window?label=cpu&minutes=abc', 'minutes'],
      ['/metrics/window?bucketMs=1', 'bucketMs'],
      ['/metrics/window?minutes=1440&bucketMs=100', 'bucketMs'],
      ['/metrics/window?label=', 'label'],
      ['/metrics/window?from=8000000000000', 'from'],
    ];
    for (const [path, field] of cases) {
      const r = await get(`${url}${path}`);
      problem(r, 400, 'ES_ERR_BAD_REQUEST');
      assert.equal(r.body.field, field, path);
    }
    problem(await get(`${url}/nope`), 404, 'ES_ERR_NOT_FOUND');
    const wrong = await get(`${url}/metrics`);
    problem(wrong, 405, 'ES_ERR_METHOD_NOT_ALLOWED');
    assert.equal(wrong.headers.get('allow'), 'POST');
    assert.equal((await get(`${url}/health`)).body.status, 'ok');
  });

  it('stops cleanly on SIGTERM', async () => {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  });
});
