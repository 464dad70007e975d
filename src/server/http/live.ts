// Live reads: a Server-Sent Events subscription and an NDJSON export of a stream. Both write with
// backpressure: when `res.write` returns false they stop pulling from the ring until 'drain', and a
// client that stays stalled longer than `stallMs` is disconnected (it resumes from its last offset),
// so a connection never buffers more than one chunk beyond the socket. The SSE side writes through
// SseWriter (sse-writer.ts), as the Durable Streams tail does.

import type { ServerResponse } from 'node:http';
import { stringifyJson } from '../../json.js';
import type { StoredEvent } from '../../protocol.js';
import type { Stream } from '../streams/stream.js';
import { SseWriter } from './sse-writer.js';

/** Events read from the ring per chunk. */
const CHUNK_EVENTS = 500;
/** A chunk (one `res.write`) stops growing past this many characters, so big events stay bounded. */
const CHUNK_CHARS = 64 * 1024;

export interface LiveOptions {
  heartbeatMs: number;
  stallMs: number;
}

function sseEvent(e: StoredEvent): string {
  return `id: ${e.offset}\ndata: ${stringifyJson(e)}\n\n`;
}

/** Where a subscription starts: an offset, the oldest event held, or the end (new events only). */
export type StartAt = number | 'oldest' | 'now';

/** How a subscription finds its stream, and waits for it when it does not exist yet. */
export interface StreamSource {
  readonly name: string;
  get(): Stream | undefined;
  /** Calls `listener` once when the stream is created; returns the cancel function. */
  whenCreated(listener: () => void): () => void;
}

/**
 * Streams the acknowledged events of a stream from `start` as SSE until the client leaves, the stream
 * is deleted (`event: deleted`), the reader falls behind eviction (`event: evicted`), the client
 * stalls, or `stop()` is called (server shutdown). A stream that does not exist yet is waited for
 * (heartbeats go on). Once the start offset is known it is sent as an `id: <start - 1>` block without
 * data, so a reconnecting client resumes there. `onEnd` runs once.
 */
export class SseSubscription {
  readonly #writer: SseWriter;
  readonly #source: StreamSource;
  #stream: Stream | undefined;
  readonly #start: StartAt;
  #cursor = 0;
  #unsubscribe: () => void = () => {};
  /** Events written (for metrics). */
  sent = 0;

  constructor(
    res: ServerResponse,
    source: StreamSource,
    start: StartAt,
    options: LiveOptions,
    onEnd: () => void,
  ) {
    this.#source = source;
    this.#start = start;
    this.#writer = new SseWriter(res, {
      stallMs: options.stallMs,
      idleMs: options.heartbeatMs,
      pump: () => this.#pump(),
      onIdle: () => this.#writer.write(': ping\n\n'),
      onEnd: () => {
        this.#unsubscribe();
        onEnd();
      },
    });
  }

  start(): void {
    this.#writer.open(
      {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      },
      `retry: 1000\n: stream ${this.#source.name}\n\n`,
    );
    this.#attach();
  }

  /** Finds the stream (or waits for it), fixes the start offset, and starts pumping. */
  #attach(): void {
    if (this.#writer.ended) return;
    const stream = this.#source.get();
    if (stream === undefined) {
      this.#writer.write(`: waiting for stream ${this.#source.name} to be created\n\n`);
      this.#unsubscribe = this.#source.whenCreated(() => this.#attach());
      return;
    }
    this.#stream = stream;
    const start = this.#start;
    this.#cursor =
      start === 'now'
        ? stream.committed
        : start === 'oldest'
          ? Math.min(stream.firstOffset, stream.committed)
          : start;
    // An id without data dispatches nothing but sets the client's last event id: a reconnect
    // (EventSource's own too) resumes exactly here, whatever `from` said (`now`, the oldest held).
    this.#writer.write(`: from ${this.#cursor}\nid: ${this.#cursor - 1}\n\n`);
    this.#unsubscribe = stream.onChange(() => this.#writer.pump());
    this.#writer.pump();
  }

  /** Ends the subscription (server shutdown); the client reconnects with Last-Event-ID. */
  stop(): void {
    this.#writer.end();
  }

  #pump(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    while (this.#writer.writable) {
      if (stream.deleted) {
        this.#writer.end(`event: deleted\ndata: ${JSON.stringify({ stream: stream.name })}\n\n`);
        return;
      }
      if (this.#cursor >= stream.committed) return;
      if (this.#cursor < stream.firstOffset) {
        const info = { stream: stream.name, requestedOffset: this.#cursor, firstOffset: stream.firstOffset };
        this.#writer.end(`event: evicted\ndata: ${JSON.stringify(info)}\n\n`);
        return;
      }
      const page = stream.read(this.#cursor, CHUNK_EVENTS);
      if (page.events.length === 0) return;
      let chunk = '';
      let n = 0;
      while (n < page.events.length && (n === 0 || chunk.length < CHUNK_CHARS))
        chunk += sseEvent(page.events[n++]!);
      this.#cursor = page.events[n - 1]!.offset + 1;
      this.sent += n;
      this.#writer.write(chunk);
    }
  }
}

/**
 * Writes `events` as NDJSON with backpressure; resolves when done, rejects (after destroying the
 * response) when the client stalls longer than `stallMs` or leaves.
 */
export async function writeNdjson(res: ServerResponse, events: readonly StoredEvent[], stallMs: number) {
  let i = 0;
  while (i < events.length) {
    let chunk = '';
    while (i < events.length && chunk.length < CHUNK_CHARS) chunk += `${stringifyJson(events[i++])}\n`;
    if (!res.write(chunk)) await drained(res, stallMs);
  }
  res.end();
}

function drained(res: ServerResponse, stallMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (err !== undefined) {
        res.destroy();
        reject(err);
      } else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('the client left'));
    const timer = setTimeout(() => done(new Error(`the client stalled for ${stallMs} ms`)), stallMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
