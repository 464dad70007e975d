// The writing half of a Server-Sent Events response, shared by the `/streams` subscriptions
// (live.ts) and the Durable Streams tail (durable-streams/sse.ts). Backpressure: when `res.write`
// returns false the writer stops calling `pump` until 'drain', so a connection never buffers more
// than one write beyond the socket; a client that stays stalled longer than `stallMs` is dropped (it
// resumes from its last id or offset). Everything runs on the server's thread: `pump` is never
// re-entered while it runs, because a write that fills the socket only schedules the next pump.

import type { ServerResponse } from 'node:http';

export interface SseWriterOptions {
  /** How long a full socket may stay full before the connection is dropped. */
  stallMs: number;
  /** Period of `onIdle` (a heartbeat, a keep-alive control event); skipped while the socket is full. */
  idleMs: number;
  /** Writes what there is to send, while `writable`; runs after `open`'s caller asks and after 'drain'. */
  pump: () => void;
  onIdle: () => void;
  /** Runs once when the response ends, whatever ended it. */
  onEnd: () => void;
}

export class SseWriter {
  readonly #res: ServerResponse;
  readonly #options: SseWriterOptions;
  #paused = false;
  #ended = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #stallTimer: NodeJS.Timeout | undefined;

  constructor(res: ServerResponse, options: SseWriterOptions) {
    this.#res = res;
    this.#options = options;
  }

  /** Sends the status line and `headers`, then `preamble` if any, and starts the idle timer. */
  open(headers: Record<string, string>, preamble = ''): void {
    this.#res.writeHead(200, headers);
    if (preamble !== '') this.#res.write(preamble);
    this.#res.on('close', () => this.#finish());
    this.#idleTimer = setInterval(() => {
      if (this.writable) this.#options.onIdle();
    }, this.#options.idleMs);
    this.#idleTimer.unref();
  }

  /** Whether a write goes out now: the response has not ended and the socket is not full. */
  get writable(): boolean {
    return !this.#ended && !this.#paused;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Writes `text`; on a full socket, pauses until 'drain' (then pumps) or drops after `stallMs`. */
  write(text: string): void {
    if (this.#ended) return;
    // Already paused (a write outside `pump`, e.g. when a waited-for stream appears): the one 'drain'
    // listener and stall timer set up by the first full write cover this one too.
    if (this.#res.write(text) || this.#paused) return;
    this.#paused = true;
    this.#stallTimer = setTimeout(() => this.drop(), this.#options.stallMs);
    this.#res.once('drain', () => {
      clearTimeout(this.#stallTimer);
      this.#paused = false;
      this.pump();
    });
  }

  /** Runs `pump`; if it throws, the connection is in an unknown state: dropped (the client resumes). */
  pump(): void {
    if (!this.writable) return;
    try {
      this.#options.pump();
    } catch {
      this.drop();
    }
  }

  /** Ends the response (after `text`, if any): the last event, or the server's shutdown. */
  end(text?: string): void {
    if (this.#ended) return;
    if (text === undefined) this.#res.end();
    else this.#res.end(text);
    this.#finish();
  }

  /** Destroys the connection (a stalled or broken client). */
  drop(): void {
    this.#res.destroy();
    this.#finish();
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#idleTimer);
    clearTimeout(this.#stallTimer);
    this.#options.onEnd();
  }
}
