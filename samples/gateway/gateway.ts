// The gateway app: a node:http server that validates orders and appends them to the event store's
// `gateway/orders` stream, each under an idempotency key (its order id) so that a retry, on this
// gateway or on another one behind the same load balancer, is stored once. Single-threaded: the
// counters are plain numbers, changed only in the event loop.

import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  type AppendResult,
  ErrorCode,
  EventStoreClient,
  EventStoreHttpError,
} from 'lockfree-eventstore/client';
import { Problem, readJsonBody, sendJson, sendProblem } from '../shared/http.ts';

export const ORDERS_STREAM = 'gateway/orders';
/** Orders stored at once by one `POST /orders/bulk`. */
export const BULK_CONCURRENCY = 16;
export const MAX_BULK = 10_000;
const MAX_BODY_BYTES = 16 * 1024;
const ORDER_ID = /^[A-Za-z0-9._:-]{1,100}$/;
/** Attempts per order against the event store (network errors, 5xx, 429), with doubling backoff. */
const STORE_ATTEMPTS = 5;
const STORE_ATTEMPT_TIMEOUT_MS = 10_000;
const MAX_UNKNOWN_OUTCOMES = 100_000;

/** The event appended to the stream. */
export interface Order {
  id: string;
  valor: number;
  gatewayId: string;
  timestamp: number;
}

export interface GatewayOptions {
  gatewayId: string;
  /** Base URL of the event store server. */
  storeUrl: string;
  token?: string | undefined;
}

export interface Gateway {
  readonly server: Server;
  readonly gatewayId: string;
  /** Orders this gateway stored and saw acknowledged, and the sum of their `valor`. */
  stats(): { gatewayId: string; sent: number; sum: number };
  /** Stops accepting connections, lets in-flight requests finish (at most `drainMs`), then resolves. */
  close(drainMs?: number): Promise<void>;
}

/** The `type` of the gateway's own problems, so they read apart from the store's. */
const PROBLEM_TYPE = 'urn:lockfree-eventstore:gateway:';

/** The store's error, passed on as 502 with the store's code (ES_ERR_NETWORK when it was unreachable). */
function upstreamProblem(err: unknown): Problem {
  if (err instanceof EventStoreHttpError) {
    return new Problem(err.code, `event store: ${err.message}`, {
      status: 502,
      extra: { upstreamStatus: err.status },
    });
  }
  return new Problem(ErrorCode.INTERNAL, `event store: ${(err as Error).message}`, { status: 502 });
}

function badRequest(message: string): Problem {
  return new Problem(ErrorCode.BAD_REQUEST, message);
}

/** `{ id?: string, valor?: positive integer }`; an empty body means both are generated. */
function parseOrderRequest(body: unknown): { id?: string; valor?: number } {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('the body must be a JSON object { "id"?: string, "valor"?: positive integer }');
  }
  const out: { id?: string; valor?: number } = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'valor') {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
        throw badRequest(`\`valor\` must be a positive integer, received ${JSON.stringify(value)}`);
      }
      out.valor = value;
    } else if (key === 'id') {
      if (typeof value !== 'string' || !ORDER_ID.test(value)) {
        throw badRequest(
          `\`id\` must be 1-100 characters of letters, digits and ._:-, received ${JSON.stringify(value)?.slice(0, 120)}`,
        );
      }
      out.id = value;
    } else {
      throw badRequest(`unknown field ${JSON.stringify(key.slice(0, 100))}; allowed: id, valor`);
    }
  }
  return out;
}

function parseBulkCount(params: URLSearchParams): number {
  const text = params.get('n');
  const n = text !== null && /^[0-9]{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= MAX_BULK)) {
    throw badRequest(`\`n\` must be an integer in [1, ${MAX_BULK}], received ${JSON.stringify(text)}`);
  }
  return n;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function retryable(err: unknown): boolean {
  return err instanceof EventStoreHttpError && (err.status === 0 || err.status >= 500 || err.status === 429);
}

/** The outcome of storing one order. */
export interface StoreOutcome {
  offset: number;
  /** True when the order id was stored by an earlier request (on any gateway). */
  duplicate: boolean;
  /** The order as stored; null when the stream no longer holds it (evicted by its capacity). */
  order: Order | null;
}

export function createGateway(options: GatewayOptions): Gateway {
  const { gatewayId } = options;
  const es = new EventStoreClient(
    options.storeUrl,
    options.token === undefined ? {} : { token: options.token },
  );
  let sent = 0;
  let sum = 0;
  /** Ids of orders whose every attempt ended without an answer: stored or not, nobody knows yet. */
  const unknownOutcome = new Set<string>();
  let draining = false;

  const rememberUnknown = (id: string): void => {
    unknownOutcome.add(id);
    // Bounded during a long store outage: the oldest entries are the least likely to be retried.
    if (unknownOutcome.size > MAX_UNKNOWN_OUTCOMES)
      unknownOutcome.delete(unknownOutcome.values().next().value!);
  };

  const acknowledge = (order: Order): void => {
    sent++;
    sum += order.valor;
  };

  /**
   * The order stored at `offset` (named by a conflict, which the store answers once that append is
   * acknowledged); polled briefly in case the read reaches the store first.
   */
  const readStored = async (offset: number): Promise<Order | null> => {
    for (let wait = 10; wait < 5_000; wait *= 2) {
      try {
        for await (const ev of es.read<Order>(ORDERS_STREAM, { from: offset, limit: 1 })) {
          if (ev.offset === offset) return ev.data;
          break;
        }
      } catch (err) {
        if (err instanceof EventStoreHttpError && err.code === ErrorCode.OFFSET_EVICTED) return null;
        throw err;
      }
      await sleep(wait);
    }
    throw new EventStoreHttpError(ErrorCode.INTERNAL, `offset ${offset} was not acknowledged in time`, 504);
  };

  /**
   * Appends `order` with Producer-Id `order:<id>`, epoch 0, sequence 0: the store keeps the
   * acknowledgement, so the same bytes sent again are answered `duplicate`, and other bytes for the
   * same id (a retry that reached another gateway) are refused with the original offset.
   */
  const storeOrder = async (order: Order, requestedValor: number | undefined): Promise<StoreOutcome> => {
    let mayBeStored = false;
    for (let attempt = 1; ; attempt++) {
      // One attempt per producer object: its own retry would take a conflict after a lost answer
      // for "my earlier attempt was stored" and move on to sequence 1, storing the order twice.
      const producer = es.producer(`order:${order.id}`, {
        epoch: 0,
        maxAttempts: 1,
        attemptTimeoutMs: STORE_ATTEMPT_TIMEOUT_MS,
      });
      let result: AppendResult;
      try {
        result = await producer.append(ORDERS_STREAM, order);
      } catch (err) {
        if (err instanceof EventStoreHttpError && err.code === ErrorCode.IDEMPOTENCY_CONFLICT) {
          const offset = Number(err.problem.firstOffset);
          const stored = await readStored(offset);
          if (requestedValor !== undefined && stored !== null && stored.valor !== requestedValor) {
            throw new Problem(
              ErrorCode.IDEMPOTENCY_CONFLICT,
              `order ${order.id} was already stored with valor ${stored.valor}, not ${requestedValor}`,
              { extra: { offset } },
            );
          }
          // Ours, from a request that failed before it learnt the outcome: count it now, once.
          if (stored?.gatewayId === gatewayId && unknownOutcome.delete(order.id)) acknowledge(stored);
          return { offset, duplicate: true, order: stored };
        }
        mayBeStored ||= err instanceof EventStoreHttpError && (err.status === 0 || err.status >= 500);
        if (!retryable(err) || attempt >= STORE_ATTEMPTS) {
          if (mayBeStored) rememberUnknown(order.id);
          throw err;
        }
        await sleep(50 * 2 ** (attempt - 1));
        continue;
      }
      // `duplicate` here means an earlier attempt of this request was stored (same bytes): still
      // the first acknowledgement of this order.
      acknowledge(order);
      unknownOutcome.delete(order.id);
      return { offset: result.firstOffset, duplicate: false, order };
    }
  };

  const newOrder = (id: string | undefined, valor: number | undefined): Order => ({
    id: id ?? `${gatewayId}-${randomUUID()}`,
    valor: valor ?? randomInt(1, 5000),
    gatewayId,
    timestamp: Date.now(),
  });

  const postOrder = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // No Content-Type check: an order may be posted as a bare body (`curl -d`).
    const body = await readJsonBody(req, { maxBytes: MAX_BODY_BYTES, requireJsonType: false });
    const request = parseOrderRequest(body);
    const outcome = await storeOrder(newOrder(request.id, request.valor), request.valor).catch((err) => {
      throw err instanceof Problem ? err : upstreamProblem(err);
    });
    sendJson(res, outcome.duplicate ? 200 : 201, { gatewayId, ...outcome });
  };

  const postBulk = async (params: URLSearchParams, res: ServerResponse): Promise<void> => {
    const n = parseBulkCount(params);
    let next = 0;
    let succeeded = 0;
    const errors: Record<string, number> = {};
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        try {
          await storeOrder(newOrder(undefined, undefined), undefined);
          succeeded++;
        } catch (err) {
          const code = (err as { code?: string }).code ?? ErrorCode.INTERNAL;
          errors[code] = (errors[code] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(BULK_CONCURRENCY, n) }, worker));
    sendJson(res, 200, { gatewayId, requested: n, succeeded, failed: n - succeeded, errors });
  };

  const getGlobalStats = async (res: ServerResponse): Promise<void> => {
    let body = {
      totalEvents: 0,
      totalValor: 0,
      gateways: {} as Record<string, { count: number; sum: number }>,
    };
    try {
      const agg = await es.aggregate(ORDERS_STREAM, { field: 'valor', groupBy: 'gatewayId' });
      body = { totalEvents: agg.count, totalValor: agg.sum, gateways: {} };
      for (const [id, g] of Object.entries(agg.groups)) body.gateways[id] = { count: g.count, sum: g.sum };
    } catch (err) {
      // No order was ever stored: the stream does not exist yet, and the totals are zero.
      if (!(err instanceof EventStoreHttpError && err.code === ErrorCode.STREAM_NOT_FOUND)) {
        throw upstreamProblem(err);
      }
    }
    sendJson(res, 200, body);
  };

  const ROUTES: Record<
    string,
    Record<string, (req: IncomingMessage, res: ServerResponse, q: URLSearchParams) => Promise<void> | void>
  > = {
    '/health': { GET: (_req, res) => sendJson(res, 200, { gatewayId, status: 'ok' }) },
    '/orders': { POST: (req, res) => postOrder(req, res) },
    '/orders/bulk': { POST: (_req, res, q) => postBulk(q, res) },
    '/stats/local': { GET: (_req, res) => sendJson(res, 200, { gatewayId, sent, sum }) },
    '/stats/global': { GET: (_req, res) => getGlobalStats(res) },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // While draining, every answer closes its connection so that the drain ends.
    if (draining) res.setHeader('connection', 'close');
    try {
      const url = new URL(req.url ?? '/', 'http://gateway');
      const route = ROUTES[url.pathname];
      if (route === undefined) {
        throw new Problem(ErrorCode.NOT_FOUND, `no route for ${JSON.stringify(url.pathname.slice(0, 100))}`);
      }
      const handler = route[req.method ?? ''];
      if (handler === undefined) {
        throw new Problem(ErrorCode.METHOD_NOT_ALLOWED, `${req.method} is not allowed on ${url.pathname}`, {
          headers: { allow: Object.keys(route).join(', ') },
        });
      }
      await handler(req, res, url.searchParams);
    } catch (err) {
      sendProblem(res, err, { typePrefix: PROBLEM_TYPE, logPrefix: `${gatewayId}: ` });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  return {
    server,
    gatewayId,
    stats: () => ({ gatewayId, sent, sum }),
    close: (drainMs = 10_000) =>
      new Promise<void>((resolve) => {
        draining = true;
        const timer = setTimeout(() => server.closeAllConnections(), drainMs);
        // A keep-alive connection whose request was in flight turns idle only when it is answered.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.close(() => {
          clearTimeout(timer);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
