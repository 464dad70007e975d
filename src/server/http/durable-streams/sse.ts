// `GET /v1/stream/{name}?live=sse`: a Server-Sent Events tail of a Durable Streams stream. Each batch
// of data is an `event: data` (a JSON array of messages for JSON streams; the text of text streams;
// base64 for any other type, announced by `Stream-SSE-Data-Encoding: base64`) followed, in the same
// write, by an `event: control` with `streamNextOffset`, `streamCursor` and `upToDate`. Every line of
// a payload gets its own `data:` line, so CR, LF or CRLF in the data cannot end an event early. The
// tail ends with a control event `streamClosed: true` once the stream is closed and everything was
// sent, and without one when the stream is deleted, the client leaves, stalls past `stallMs`, or the
// server stops (the client resumes from its last `streamNextOffset`). Backpressure: nothing more is
// read while a write waits for 'drain'.

import type { ServerResponse } from 'node:http';
import type { Stream } from '../../streams/stream.js';
import type { Position } from '../../streams/stream-chain.js';
import type { LiveResponse, RouteContext } from '../context.js';
import { refuseIfLiveReadersFull } from '../read.js';
import { responseCursor } from './cursor.js';
import { formatOffset } from './offsets.js';
import { readRange } from './read-range.js';
import { touchOnRead } from './stream-access.js';

/** Bytes of data per `event: data` at most (a larger JSON message is sent whole). */
const EVENT_BUDGET_BYTES = 64 * 1024;

/** Whether a stream of this content type is sent as text (else base64). */
function isText(contentType: string): boolean {
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return media.startsWith('text/') || media === 'application/json';
}

/**
 * The `data:` lines of an SSE payload. A line that begins with a space gets one more, which parsers
 * strip (they drop a single space after the colon).
 */
export function sseData(payload: string): string {
  let out = '';
  for (const line of payload.split(/\r\n|\r|\n/))
    out += line.startsWith(' ') ? `data: ${line}\n` : `data:${line}\n`;
  return out;
}

class DurableStreamsSse implements LiveResponse {
  readonly #res: ServerResponse;
  readonly #ctx: RouteContext;
  readonly #stream: Stream;
  readonly #cursor: string | null;
  readonly #base64: boolean;
  readonly #decoder = new TextDecoder();
  #at: Position;
  #paused = false;
  #ended = false;
  /** The last control event said `upToDate` and nothing was written since. */
  #settled = false;
  #unsubscribe: () => void = () => {};
  #keepAlive: NodeJS.Timeout | undefined;
  #stallTimer: NodeJS.Timeout | undefined;

  constructor(res: ServerResponse, ctx: RouteContext, stream: Stream, from: Position, cursor: string | null) {
    this.#res = res;
    this.#ctx = ctx;
    this.#stream = stream;
    this.#at = from;
    this.#cursor = cursor;
    this.#base64 = !isText(stream.config.contentType);
  }

  start(): void {
    const headers: Record<string, string> = {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    };
    if (this.#base64) headers['stream-sse-data-encoding'] = 'base64';
    this.#res.writeHead(200, headers);
    this.#res.on('close', () => this.#finish());
    this.#unsubscribe = this.#stream.onChange(() => this.#pump());
    this.#keepAlive = setInterval(() => this.#idle(), this.#ctx.limits.longPollTimeoutMs);
    this.#keepAlive.unref();
    this.#pump();
  }

  /** Ends the tail (server shutdown); the client resumes from its last offset. */
  stop(): void {
    if (this.#ended) return;
    this.#res.end();
    this.#finish();
  }

  #control(extra: Record<string, unknown>): string {
    const control = { streamNextOffset: formatOffset(this.#at.offset, this.#at.byte), ...extra };
    return `event: control\n${sseData(JSON.stringify(control))}\n`;
  }

  /** A keep-alive control event after a quiet `longPollTimeoutMs` (and a TTL refresh: the tail reads). */
  #idle(): void {
    if (this.#ended || this.#paused) return;
    touchOnRead(this.#ctx, this.#stream, Date.now());
    const cursor = responseCursor(this.#cursor, Date.now());
    this.#write(this.#control({ streamCursor: cursor, upToDate: true }));
  }

  #pump(): void {
    try {
      this.#pumpUnsafe();
    } catch {
      // An offset evicted under a slow reader, or a broken connection: drop it; the client resumes.
      this.#res.destroy();
      this.#finish();
    }
  }

  #pumpUnsafe(): void {
    const stream = this.#stream;
    while (!this.#ended && !this.#paused) {
      if (stream.deleted) {
        this.#res.end();
        this.#finish();
        return;
      }
      const read = readRange(this.#ctx, stream, this.#at, EVENT_BUDGET_BYTES);
      const empty = read.byteLength === 0;
      if (empty && read.upToDate && stream.closeCommitted) {
        this.#res.end(this.#control({ streamClosed: true }));
        this.#finish();
        return;
      }
      if (empty && this.#settled) return;
      let out = '';
      if (!empty) {
        out += `event: data\n${sseData(this.#payload(read.messages, read.chunks))}\n`;
        this.#ctx.metrics.sseEventsSent++;
      }
      this.#at = read.next;
      if (read.upToDate && stream.closeCommitted) {
        this.#res.end(out + this.#control({ streamClosed: true }));
        this.#finish();
        return;
      }
      const control: Record<string, unknown> = { streamCursor: responseCursor(this.#cursor, Date.now()) };
      if (read.upToDate) control.upToDate = true;
      this.#settled = read.upToDate;
      this.#write(out + this.#control(control));
    }
  }

  #payload(messages: string[], chunks: Uint8Array[]): string {
    if (this.#stream.json) return `[${messages.join(',')}]`;
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (this.#base64) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
    // Text: a character split between two events is completed by the next one.
    return this.#decoder.decode(bytes, { stream: true });
  }

  #write(text: string): void {
    if (this.#res.write(text)) return;
    this.#paused = true;
    this.#stallTimer = setTimeout(() => {
      // Stalled past the budget: drop the connection instead of buffering; the client resumes.
      this.#res.destroy();
      this.#finish();
    }, this.#ctx.limits.stallMs);
    this.#res.once('drain', () => {
      clearTimeout(this.#stallTimer);
      this.#paused = false;
      this.#pump();
    });
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe();
    clearInterval(this.#keepAlive);
    clearTimeout(this.#stallTimer);
    this.#ctx.metrics.liveSubscribers--;
    this.#ctx.live.delete(this);
  }
}

/** Starts an SSE tail of `stream` from `from` (counted toward `maxSubscribers`). */
export function subscribeSse(
  res: ServerResponse,
  ctx: RouteContext,
  stream: Stream,
  from: Position,
  cursor: string | null,
): void {
  refuseIfLiveReadersFull(ctx);
  ctx.metrics.liveSubscribers++;
  const sse = new DurableStreamsSse(res, ctx, stream, from, cursor);
  ctx.live.add(sse);
  sse.start();
}
