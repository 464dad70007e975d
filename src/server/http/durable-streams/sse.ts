// `GET /v1/stream/{name}?live=sse`: a Server-Sent Events tail of a Durable Streams stream. Each batch
// of data is an `event: data` (a JSON array of messages for JSON streams; the text of text streams;
// base64 for any other type, announced by `Stream-SSE-Data-Encoding: base64`) followed, in the same
// write, by an `event: control` with `streamNextOffset`, `streamCursor` and `upToDate`. Every line of
// a payload gets its own `data:` line, so CR, LF or CRLF in the data cannot end an event early. The
// tail ends with a control event `streamClosed: true` once the stream is closed and everything was
// sent, and without one when the stream is deleted, the client leaves, stalls past `stallMs`, or the
// server stops (the client resumes from its last `streamNextOffset`). Backpressure (SseWriter, as for
// the `/streams` subscriptions): nothing more is read while a write waits for 'drain', and a client
// stalled longer than `stallMs` is dropped.

import type { ServerResponse } from 'node:http';
import type { Stream } from '../../streams/stream.js';
import type { Position } from '../../streams/stream-chain.js';
import type { LiveResponse, RouteContext } from '../context.js';
import { refuseIfLiveReadersFull } from '../read.js';
import { SseWriter } from '../sse-writer.js';
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
  readonly #writer: SseWriter;
  readonly #ctx: RouteContext;
  readonly #stream: Stream;
  readonly #cursor: string | null;
  readonly #base64: boolean;
  readonly #decoder = new TextDecoder();
  #at: Position;
  /** The last control event said `upToDate` and nothing was written since. */
  #settled = false;
  #unsubscribe: () => void = () => {};

  constructor(res: ServerResponse, ctx: RouteContext, stream: Stream, from: Position, cursor: string | null) {
    this.#ctx = ctx;
    this.#stream = stream;
    this.#at = from;
    this.#cursor = cursor;
    this.#base64 = !isText(stream.config.contentType);
    this.#writer = new SseWriter(res, {
      stallMs: ctx.limits.stallMs,
      idleMs: ctx.limits.longPollTimeoutMs,
      pump: () => this.#pump(),
      onIdle: () => this.#idle(),
      onEnd: () => {
        this.#unsubscribe();
        this.#ctx.metrics.liveSubscribers--;
        this.#ctx.live.delete(this);
      },
    });
  }

  start(): void {
    const headers: Record<string, string> = {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    };
    if (this.#base64) headers['stream-sse-data-encoding'] = 'base64';
    this.#writer.open(headers);
    this.#unsubscribe = this.#stream.onChange(() => this.#writer.pump());
    this.#writer.pump();
  }

  /** Ends the tail (server shutdown); the client resumes from its last offset. */
  stop(): void {
    this.#writer.end();
  }

  #control(extra: Record<string, unknown>): string {
    const control = { streamNextOffset: formatOffset(this.#at.offset, this.#at.byte), ...extra };
    return `event: control\n${sseData(JSON.stringify(control))}\n`;
  }

  /** A keep-alive control event after a quiet `longPollTimeoutMs` (and a TTL refresh: the tail reads). */
  #idle(): void {
    touchOnRead(this.#ctx, this.#stream, Date.now());
    const cursor = responseCursor(this.#cursor, Date.now());
    this.#writer.write(this.#control({ streamCursor: cursor, upToDate: true }));
  }

  // An offset evicted under a slow reader makes `readRange` throw: the writer drops the connection and
  // the client resumes.
  #pump(): void {
    const stream = this.#stream;
    while (this.#writer.writable) {
      if (stream.deleted) {
        this.#writer.end();
        return;
      }
      const read = readRange(this.#ctx, stream, this.#at, EVENT_BUDGET_BYTES);
      const empty = read.byteLength === 0;
      if (empty && read.upToDate && stream.closeCommitted) {
        this.#writer.end(this.#control({ streamClosed: true }));
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
        this.#writer.end(out + this.#control({ streamClosed: true }));
        return;
      }
      const control: Record<string, unknown> = { streamCursor: responseCursor(this.#cursor, Date.now()) };
      if (read.upToDate) control.upToDate = true;
      this.#settled = read.upToDate;
      this.#writer.write(out + this.#control(control));
    }
  }

  #payload(messages: string[], chunks: Uint8Array[]): string {
    if (this.#stream.json) return `[${messages.join(',')}]`;
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (this.#base64) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
    // Text: a character split between two events is completed by the next one.
    return this.#decoder.decode(bytes, { stream: true });
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
