// EventStoreClient: the HTTP client of the server (docs/http-api.md). Uses only web platform APIs
// (fetch, ReadableStream, TextDecoder, AbortSignal), so it runs in Node and in browsers. Stateless
// apart from idempotent producers, whose per-stream sequence numbers live in the producer object, and
// (given several base URLs: the nodes of a cluster) the node it currently talks to.

import { ErrorCode, invalidArg } from '../errors.js';
import type { AggregateResult, AppendResult, StoredEvent, StreamInfo, StreamList } from '../protocol.js';
import { EventStoreHttpError, errorFromResponse, networkError } from './errors.js';

/** Options of {@link EventStoreClient}. */
export interface EventStoreClientOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** A stored event, as a read or a subscription yields it. */
export type StreamEvent<T = unknown> = StoredEvent<T>;

export interface AppendOptions {
  /** Last offset the stream must have (-1: empty); otherwise 409 ES_ERR_WRONG_EXPECTED_VERSION. */
  expectedVersion?: number;
  signal?: AbortSignal;
}

export interface ReadOptions {
  /** First offset to read. @default the oldest held */
  from?: number;
  /** Events per request (the server caps it). @default 1000 */
  limit?: number;
  signal?: AbortSignal;
}

export interface SubscribeOptions {
  /**
   * First offset to deliver, or `'now'` for only the events appended from now on. A stream that does
   * not exist yet is waited for. @default the oldest held
   */
  from?: number | 'now';
  signal?: AbortSignal;
  /** First reconnect delay; doubles up to `maxReconnectDelayMs`. @default 100 */
  reconnectDelayMs?: number;
  /** @default 5_000 */
  maxReconnectDelayMs?: number;
  /**
   * Reconnect when the connection brings nothing (not even the server's heartbeat) for this long:
   * a silently dead connection would otherwise wait forever. @default 45_000 (3 heartbeats)
   */
  idleTimeoutMs?: number;
}

export interface AggregateOptions {
  /** Numeric field (or dotted path) to aggregate. */
  field: string;
  groupBy?: string;
  /** Inclusive bounds on the event timestamp: epoch ms, Date or ISO string. */
  from?: number | Date | string;
  to?: number | Date | string;
  signal?: AbortSignal;
}

export interface ProducerOptions {
  /** Producer epoch: use a larger one after every restart of the producer. @default Date.now() */
  epoch?: number;
  /** Attempts per append (network errors, timeouts, 5xx, 429). @default 5 */
  maxAttempts?: number;
  /** Per-attempt timeout. @default 10_000 */
  attemptTimeoutMs?: number;
  /** First retry delay (doubles per attempt, up to `maxRetryDelayMs`). @default 100 */
  retryDelayMs?: number;
  /** Longest delay between two attempts. @default 5_000 */
  maxRetryDelayMs?: number;
}

/** An idempotent producer: appends are sequenced per stream and retried safely. */
export interface IdempotentProducer {
  readonly id: string;
  readonly epoch: number;
  append(stream: string, event: unknown, options?: { signal?: AbortSignal }): Promise<AppendResult>;
  appendBatch(
    stream: string,
    events: readonly unknown[],
    options?: { signal?: AbortSignal },
  ): Promise<AppendResult>;
}

function streamPath(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw invalidArg('`stream` must be a non-empty string');
  }
  return `/streams/${name.split('/').map(encodeURIComponent).join('/')}`;
}

function timeParam(v: number | Date | string): string {
  return v instanceof Date ? String(v.getTime()) : String(v);
}

function jsonBody(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw invalidArg(`${what} is not JSON-serializable`);
  return text;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function retryable(err: unknown): boolean {
  if (!(err instanceof EventStoreHttpError)) return false;
  return err.status === 0 || err.status >= 500 || err.status === 429 || err.status === 408;
}

/** 503 codes that say nothing of the request was done: another node may take it at once. */
const NOTHING_DONE = new Set<string>([ErrorCode.LOG_UNAVAILABLE, ErrorCode.SHUTTING_DOWN]);

/**
 * Client of a lockfree-eventstore server, or of the nodes of a cluster: given several base URLs it
 * talks to one at a time and moves to the next when that one fails (a network error or a 503). A
 * read, a listing, an aggregation or a subscription is sent again to the next node at once; an append
 * or a delete is sent again only when the node answered that it did nothing (503
 * `ES_ERR_LOG_UNAVAILABLE`, `ES_ERR_SHUTTING_DOWN`): after a network error its outcome is unknown, so
 * it fails, and the next call (an idempotent producer's retry) goes to the next node.
 *
 * ```ts
 * const es = new EventStoreClient('http://localhost:7070');
 * const cluster = new EventStoreClient(['http://n1:7070', 'http://n2:7070', 'http://n3:7070']);
 * await es.append('gateway/orders', { id: 'o-1', valor: 123 });
 * for await (const ev of es.read('gateway/orders', { from: 0 })) console.log(ev.offset, ev.data);
 * ```
 */
export class EventStoreClient {
  /** Every base URL given, in order. */
  readonly baseUrls: readonly string[];
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  /** Index in `baseUrls` of the node requests go to. */
  #current = 0;

  /** `baseUrl`: one server, or the nodes of a cluster (tried in order, moving on when one fails). */
  constructor(baseUrl: string | readonly string[], options: EventStoreClientOptions = {}) {
    const urls = typeof baseUrl === 'string' ? [baseUrl] : [...baseUrl];
    if (urls.length === 0 || urls.some((u) => typeof u !== 'string' || u === '')) {
      throw invalidArg('`baseUrl` must be a URL or a non-empty array of URLs');
    }
    this.baseUrls = urls.map((u) => u.replace(/\/+$/, ''));
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The base URL requests go to now (the first given, until it fails). */
  get baseUrl(): string {
    return this.baseUrls[this.#current]!;
  }

  /** The node at `index` failed: later requests go to the next one (unless another call moved on). */
  #failed(index: number): void {
    if (this.#current === index) this.#current = (index + 1) % this.baseUrls.length;
  }

  /** Appends one event (any JSON value). */
  append(stream: string, event: unknown, options: AppendOptions = {}): Promise<AppendResult> {
    return this.#append(stream, jsonBody(event, '`event`'), options, {}, options.signal);
  }

  /** Appends events atomically (one batch, consecutive offsets). */
  appendBatch(
    stream: string,
    events: readonly unknown[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    if (!Array.isArray(events) || events.length === 0) {
      throw invalidArg('`events` must be a non-empty array');
    }
    return this.#append(stream, jsonBody(events, '`events`'), options, {}, options.signal);
  }

  /** Reads a stream from `from` to its current end, page by page. */
  async *read<T = unknown>(stream: string, options: ReadOptions = {}): AsyncGenerator<StreamEvent<T>> {
    let from = options.from;
    for (;;) {
      const q = new URLSearchParams();
      if (from !== undefined) q.set('from', String(from));
      if (options.limit !== undefined) q.set('limit', String(options.limit));
      const page = (await this.#json('GET', `${streamPath(stream)}?${q}`, options.signal)) as {
        events: StreamEvent<T>[];
        nextOffset: number;
        lastOffset: number;
      };
      for (const e of page.events) yield e;
      if (page.events.length === 0 || page.nextOffset > page.lastOffset) return;
      from = page.nextOffset;
    }
  }

  /**
   * Live subscription (Server-Sent Events): yields every event from `from` on, forever. On a dropped
   * connection it reconnects with backoff and resumes after the last delivered offset, so nothing is
   * skipped or repeated. Throws ES_ERR_OFFSET_EVICTED when the resume point was evicted, and the
   * server's error for 4xx answers; ends by throwing the signal's reason when aborted.
   */
  async *subscribe<T = unknown>(
    stream: string,
    options: SubscribeOptions = {},
  ): AsyncGenerator<StreamEvent<T>> {
    const path = streamPath(stream);
    const minDelay = options.reconnectDelayMs ?? 100;
    const maxDelay = options.maxReconnectDelayMs ?? 5_000;
    const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
    const signal = options.signal;
    // The last offset delivered (or announced by the server's `start` event); undefined until known.
    let last = typeof options.from === 'number' ? options.from - 1 : undefined;
    let delay = minDelay;
    for (;;) {
      signal?.throwIfAborted();
      const headers: Record<string, string> = { accept: 'text/event-stream', ...this.#auth() };
      const node = this.#current;
      let url = `${this.baseUrl}${path}`;
      if (last !== undefined && last >= 0) headers['last-event-id'] = String(last);
      else if (last !== undefined) url += `?from=${last + 1}`;
      else if (options.from === 'now') url += '?from=now';
      let res: Response;
      const connection = new AbortController();
      const connectionSignal =
        signal === undefined ? connection.signal : AbortSignal.any([signal, connection.signal]);
      let idle: ReturnType<typeof setTimeout> | undefined;
      const arm = (): void => {
        idle = setTimeout(
          () => connection.abort(new Error(`no data for ${idleTimeoutMs} ms`)),
          idleTimeoutMs,
        );
      };
      try {
        arm();
        res = await this.#fetch(url, { headers, signal: connectionSignal });
        clearTimeout(idle);
        if (!res.ok) throw await errorFromResponse(res);
        if (res.body === null) throw networkError(new Error('the response has no body'));
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        try {
          for (;;) {
            arm(); // the time the consumer spends on an event does not count
            const { done, value } = await reader.read();
            clearTimeout(idle);
            if (done) break;
            buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
            let sep = buffer.indexOf('\n\n');
            while (sep >= 0) {
              const block = buffer.slice(0, sep);
              buffer = buffer.slice(sep + 2);
              sep = buffer.indexOf('\n\n');
              let eventType = 'message';
              let data = '';
              let id: string | undefined;
              for (const line of block.split('\n')) {
                if (line.startsWith(':') || line === '') continue;
                const colon = line.indexOf(':');
                const field = colon < 0 ? line : line.slice(0, colon);
                const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
                if (field === 'event') eventType = value;
                else if (field === 'data') data = data === '' ? value : `${data}\n${value}`;
                else if (field === 'id') id = value;
              }
              if (data === '') {
                // An id alone: where the server began (`from=now`, the oldest held); a reconnect
                // before the first event resumes there.
                if (id !== undefined && /^-?[0-9]+$/.test(id)) last ??= Number(id);
                continue;
              }
              const payload = JSON.parse(data) as Record<string, unknown>;
              if (eventType === 'evicted') {
                throw new EventStoreHttpError(
                  ErrorCode.OFFSET_EVICTED,
                  `the subscription fell behind: offset ${String(payload.requestedOffset)} was evicted (oldest held ${String(payload.firstOffset)})`,
                  410,
                  payload,
                );
              }
              if (eventType === 'deleted') {
                throw new EventStoreHttpError(
                  ErrorCode.STREAM_NOT_FOUND,
                  `stream ${stream} was deleted`,
                  404,
                  payload,
                );
              }
              if (eventType !== 'message') continue;
              const ev = payload as unknown as StreamEvent<T>;
              if (last !== undefined && ev.offset <= last) continue;
              last = ev.offset;
              delay = minDelay;
              yield ev;
            }
          }
        } finally {
          void reader.cancel().catch(() => {});
        }
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const e = err instanceof EventStoreHttpError ? err : networkError(err);
        if (!retryable(e)) throw e;
        if (e.status === 0 || e.status === 503) this.#failed(node);
      } finally {
        clearTimeout(idle);
      }
      // The connection ended (server restart, stall cut, network): resume after `last`.
      await sleep(delay * (0.8 + Math.random() * 0.4), signal);
      delay = Math.min(maxDelay, delay * 2);
    }
  }

  /** Aggregates a numeric field over a stream, computed by the server. */
  aggregate(stream: string, options: AggregateOptions): Promise<AggregateResult> {
    const q = new URLSearchParams({ aggregate: 'true', field: options.field });
    if (options.groupBy !== undefined) q.set('groupBy', options.groupBy);
    if (options.from !== undefined) q.set('from', timeParam(options.from));
    if (options.to !== undefined) q.set('to', timeParam(options.to));
    return this.#json('GET', `${streamPath(stream)}?${q}`, options.signal) as Promise<AggregateResult>;
  }

  /** Every stream (whose name starts with `prefix`, when given) with its counts and offsets, by name. */
  async streams(options: { prefix?: string; signal?: AbortSignal } = {}): Promise<StreamInfo[]> {
    const all: StreamInfo[] = [];
    let after: string | undefined;
    for (;;) {
      const q = new URLSearchParams();
      if (options.prefix !== undefined) q.set('prefix', options.prefix);
      if (after !== undefined) q.set('after', after);
      const page = (await this.#json('GET', `/streams?${q}`, options.signal)) as StreamList;
      all.push(...page.streams);
      if (page.nextAfter === undefined) return all;
      after = page.nextAfter;
    }
  }

  /** Server statistics (GET /stats). */
  stats(options: { signal?: AbortSignal } = {}): Promise<Record<string, unknown>> {
    return this.#json('GET', '/stats', options.signal) as Promise<Record<string, unknown>>;
  }

  /** Deletes a stream (its offsets are never reused). */
  delete(
    stream: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ stream: string; nextOffset: number }> {
    return this.#json('DELETE', streamPath(stream), options.signal) as Promise<{
      stream: string;
      nextOffset: number;
    }>;
  }

  /**
   * An idempotent producer: each append gets the next `Producer-Seq` of its stream and is retried with
   * the same sequence on network errors, timeouts, 5xx and 429, so it is stored exactly once. Appends
   * of one producer to one stream are sent one at a time (in call order).
   */
  producer(id: string, options: ProducerOptions = {}): IdempotentProducer {
    const epoch = options.epoch ?? Date.now();
    const maxAttempts = options.maxAttempts ?? 5;
    const attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    const retryDelayMs = options.retryDelayMs ?? 100;
    const maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
    /** Per stream: the next sequence, and whether the previous one may have been stored after all. */
    const seqs = new Map<string, { next: number; uncertain: boolean }>();
    const queues = new Map<string, Promise<unknown>>();
    const send = async (
      stream: string,
      body: string,
      signal: AbortSignal | undefined,
    ): Promise<AppendResult> => {
      let state = seqs.get(stream);
      if (state === undefined) seqs.set(stream, (state = { next: 0, uncertain: false }));
      let lastError: unknown;
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const headers = {
          'producer-id': id,
          'producer-epoch': String(epoch),
          'producer-seq': String(state.next),
        };
        const timeout = AbortSignal.timeout(attemptTimeoutMs);
        const attemptSignal = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
        try {
          const result = await this.#append(stream, body, { signal: attemptSignal }, headers, signal);
          state.next++;
          state.uncertain = false;
          return result;
        } catch (err) {
          if (signal?.aborted) {
            state.uncertain = true;
            throw err;
          }
          if (
            err instanceof EventStoreHttpError &&
            err.code === ErrorCode.IDEMPOTENCY_CONFLICT &&
            state.uncertain
          ) {
            // The earlier append that failed without an answer was stored: its sequence is used.
            state.next++;
            state.uncertain = false;
            attempt--;
            continue;
          }
          if (!retryable(err)) throw err;
          lastError = err;
          state.uncertain = true;
          if (attempt < maxAttempts) {
            await sleep(Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (attempt - 1)), signal);
          }
        }
      }
      throw lastError;
    };
    const enqueue = (
      stream: string,
      body: string,
      signal: AbortSignal | undefined,
    ): Promise<AppendResult> => {
      const previous = queues.get(stream) ?? Promise.resolve();
      const run = previous.then(
        () => send(stream, body, signal),
        () => send(stream, body, signal),
      );
      queues.set(stream, run);
      return run;
    };
    return {
      id,
      epoch,
      append: (stream, event, opts = {}) => enqueue(stream, jsonBody(event, '`event`'), opts.signal),
      appendBatch: (stream, events, opts = {}) => {
        if (!Array.isArray(events) || events.length === 0) {
          return Promise.reject(invalidArg('`events` must be a non-empty array'));
        }
        return enqueue(stream, jsonBody(events, '`events`'), opts.signal);
      },
    };
  }

  #auth(): Record<string, string> {
    return this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` };
  }

  async #append(
    stream: string,
    body: string,
    options: AppendOptions,
    extraHeaders: Record<string, string>,
    userSignal: AbortSignal | undefined,
  ): Promise<AppendResult> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...this.#auth(),
      ...extraHeaders,
    };
    if (options.expectedVersion !== undefined) headers['expected-version'] = String(options.expectedVersion);
    const res = await this.#send('POST', streamPath(stream), { headers, body }, options.signal, userSignal);
    return (await res.json()) as AppendResult;
  }

  async #json(method: string, path: string, signal: AbortSignal | undefined): Promise<unknown> {
    const res = await this.#send(method, path, { headers: { ...this.#auth() } }, signal, signal);
    return res.json();
  }

  /**
   * One request; non-2xx answers become EventStoreHttpError, failures without a response
   * ES_ERR_NETWORK. An abort of `userSignal` (or of `signal` when no user signal is given) rethrows
   * the signal's reason; any other abort (a per-attempt timeout) is a network error.
   */
  async #send(
    method: string,
    path: string,
    init: { headers: Record<string, string>; body?: string },
    signal: AbortSignal | undefined,
    userSignal: AbortSignal | undefined,
  ): Promise<Response> {
    // Reads may go to every node in turn; a change only when a node said it did nothing.
    const safe = method === 'GET' || method === 'HEAD';
    for (let tried = 1; ; tried++) {
      const node = this.#current;
      let res: Response;
      try {
        res = await this.#fetch(`${this.baseUrls[node]}${path}`, {
          method,
          ...init,
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (err) {
        if (userSignal?.aborted) throw userSignal.reason;
        if (signal?.aborted) throw networkError(err);
        this.#failed(node);
        if (safe && tried < this.baseUrls.length) continue;
        throw networkError(err);
      }
      if (res.ok) return res;
      const error = await errorFromResponse(res);
      if (error.status === 503) {
        this.#failed(node);
        if ((safe || NOTHING_DONE.has(error.code)) && tried < this.baseUrls.length) continue;
      }
      throw error;
    }
  }
}
