// The dashboard's HTTP routes: metric ingestion, the aggregate queries behind the page, and the page
// itself. One handler per route; all state lives in the MetricsStore. Bodies are read with a byte
// limit as they arrive, and every bad input is a problem+json answer, never a crash.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ErrorCode } from 'lockfree-eventstore';
import { Problem, readJsonBody, sendJson, sendProblem } from '../shared/http.ts';
import { badInput, labelParam, numberParam, optionalLabelParam, parseMetrics, rangeParams } from './input.ts';
import type { Aggregate, MetricsStore, TimeRange } from './metrics-store.ts';
import { loadStaticAssets } from './static-assets.ts';

/**
 * The default port: apart from `npm start` (7070), the gateway sample (7071, 8080-8083) and the
 * sensors API (7072), so every sample runs beside the others; not 5000 or 7000 (macOS AirPlay).
 */
export const DASHBOARD_DEFAULT_PORT = 7073;

/** Longest range a query may name with `minutes`: a week. */
const MAX_MINUTES = 7 * 24 * 60;
/** Most buckets in one `/metrics/window` answer (per label). */
const MAX_BUCKETS = 1_000;
/** Labels charted in one answer: beyond a couple of dozen charts the page is no longer readable. */
const MAX_CHARTED_LABELS = 24;
const MAX_TOP_K = 100;

export interface DashboardServerOptions {
  store: MetricsStore;
  /** Largest accepted `POST /metrics` body; a larger one is answered 413. */
  maxBodyBytes: number;
  /** The clock used for defaults (`now` ranges, metrics without a timestamp). */
  nowMs?: () => number;
}

interface Context {
  store: MetricsStore;
  maxBodyBytes: number;
  nowMs: () => number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, params: URLSearchParams, ctx: Context) => unknown;

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rangeBody(range: TimeRange): { fromMs: number | null; toMs: number | null } {
  return { fromMs: range.fromMs ?? null, toMs: range.toMs ?? null };
}

const postMetrics: Handler = async (req, res, _params, ctx) => {
  const body = await readJsonBody(req, { maxBytes: ctx.maxBodyBytes });
  if (body === undefined) throw badInput('body', 'the request body is empty');
  const metrics = parseMetrics(body, ctx.nowMs());
  sendJson(res, 200, { appended: ctx.store.append(metrics) });
};

const getSum: Handler = (_req, res, params, ctx) => {
  const label = labelParam(params);
  const range = rangeParams(params, ctx.nowMs(), undefined, MAX_MINUTES);
  const { count, sum } = ctx.store.ofLabel(label, range);
  sendJson(res, 200, { label, ...rangeBody(range), count, sum });
};

const getSumWindow: Handler = (_req, res, params, ctx) => {
  const label = labelParam(params);
  const minutes = numberParam(params, 'minutes', { fallback: 10, max: MAX_MINUTES });
  const toMs = ctx.nowMs();
  const range = { fromMs: toMs - minutes * 60_000, toMs };
  const { count, sum } = ctx.store.ofLabel(label, range);
  sendJson(res, 200, { label, minutes, ...range, count, sum });
};

const getWindow: Handler = (_req, res, params, ctx) => {
  const label = optionalLabelParam(params);
  const nowMs = ctx.nowMs();
  const range = rangeParams(params, nowMs, ctx.store.windowSizeMs / 60_000, MAX_MINUTES);
  const fromMs = range.fromMs!;
  const toMs = range.toMs ?? nowMs;
  if (fromMs > toMs) throw badInput('from', `from (${fromMs}) must not be after to (${toMs})`);
  const bucketMs = numberParam(params, 'bucketMs', {
    fallback: ctx.store.bucketWidthMs,
    min: 100,
    max: MAX_MINUTES * 60_000,
    integer: true,
  });
  const bucketCount = Math.floor(toMs / bucketMs) - Math.floor(fromMs / bucketMs) + 1;
  if (bucketCount > MAX_BUCKETS) {
    throw badInput(
      'bucketMs',
      `the range holds ${bucketCount} buckets of ${bucketMs} ms; at most ${MAX_BUCKETS}`,
    );
  }
  const closed = { fromMs, toMs };
  const labels =
    label === undefined
      ? ctx.store.byLabel(closed)
      : new Map<string, Aggregate>([[label, ctx.store.ofLabel(label, closed)]]);
  const totals = label === undefined ? ctx.store.totals(closed) : labels.get(label)!;
  const series = ctx.store.series(fromMs, toMs, bucketMs);
  const seen = [...labels].filter(([name, a]) => a.count > 0 && series.labels.has(name));
  const charted = seen
    .sort(([a, x], [b, y]) => y.sum - x.sum || byName(a, b))
    .slice(0, MAX_CHARTED_LABELS)
    .map(([name]) => name)
    .sort();
  const chartSeries: Record<string, { count: number[]; sum: number[]; average: Array<number | null> }> = {};
  for (const name of charted) {
    const s = series.labels.get(name)!;
    chartSeries[name] = { ...s, average: s.count.map((c, i) => (c === 0 ? null : s.sum[i]! / c)) };
  }
  sendJson(res, 200, {
    fromMs,
    toMs,
    label: label ?? null,
    ...totals,
    labels: Object.fromEntries([...labels].sort(([a], [b]) => byName(a, b))),
    buckets: {
      bucketMs,
      bucketStartMs: series.bucketStartMs,
      series: chartSeries,
      omittedLabels: seen.length - charted.length,
    },
  });
};

const getTop: Handler = (_req, res, params, ctx) => {
  const k = numberParam(params, 'k', { fallback: 5, min: 1, max: MAX_TOP_K, integer: true });
  const range = rangeParams(params, ctx.nowMs(), undefined, MAX_MINUTES);
  sendJson(res, 200, { k, ...rangeBody(range), top: ctx.store.top(k, range) });
};

const getHealth: Handler = (_req, res, _params, ctx) => {
  sendJson(res, 200, { status: 'ok', events: ctx.store.size, capacity: ctx.store.capacity });
};

const API: ReadonlyMap<string, Readonly<Partial<Record<string, Handler>>>> = new Map([
  ['/metrics', { POST: postMetrics }],
  ['/metrics/sum', { GET: getSum }],
  ['/metrics/sum-window', { GET: getSumWindow }],
  ['/metrics/window', { GET: getWindow }],
  ['/metrics/top', { GET: getTop }],
  ['/health', { GET: getHealth }],
]);

/** The dashboard's HTTP server (not yet listening). */
export function createDashboardServer(options: DashboardServerOptions): Server {
  const ctx: Context = {
    store: options.store,
    maxBodyBytes: options.maxBodyBytes,
    nowMs: options.nowMs ?? Date.now,
  };
  const assets = loadStaticAssets();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Split by hand: `new URL('//host/x', base)` would read a path as a host.
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    const method = req.method ?? 'GET';
    const asset = assets.get(path);
    const routes = API.get(path) ?? (asset === undefined ? undefined : {});
    if (routes === undefined) {
      throw new Problem(ErrorCode.NOT_FOUND, `no route for ${JSON.stringify(path.slice(0, 100))}`);
    }
    // Node sends no body for HEAD by itself.
    if (asset !== undefined && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, {
        'content-type': asset.contentType,
        'content-length': asset.body.length,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        // Everything the page needs is served from here; nothing inline, nothing remote.
        'content-security-policy': "default-src 'self'; img-src 'self' data:",
      });
      res.end(asset.body);
      return;
    }
    const handler = routes[method];
    if (handler === undefined) {
      const allow = asset === undefined ? Object.keys(routes).join(', ') : 'GET, HEAD';
      throw new Problem(ErrorCode.METHOD_NOT_ALLOWED, `${path} takes ${allow}, not ${method}`, {
        headers: { allow },
      });
    }
    await handler(req, res, params, ctx);
  };
  // A 413 (body past the limit, left unread) closes the connection with the answer.
  return createServer((req, res) => void handle(req, res).catch((err: unknown) => sendProblem(res, err)));
}
