// Lifetime counters and the recent append rate of one store. Updated by the store's thread on every
// append (one call per append or batch, with the coarse clock); read by anyone on that thread.
// Counters are monotonic: `clear()` does not reset them, so they export cleanly as metrics.

const RATE_WINDOW_SECONDS = 5;

/** Statistics of an {@link EventStore}. A live view: read the properties when needed. */
export class EventStoreStatistics {
  /** Events appended since creation (including events later evicted or cleared). */
  totalAppended = 0;
  /** Events evicted by `overwrite` to make room for newer ones. */
  totalDiscarded = 0;
  /** Appends refused by `overflow: 'reject'`. */
  totalRejected = 0;

  #lastAppendMs = -1;
  #firstAppendMs = -1;
  // Appends per whole second, a ring of RATE_WINDOW_SECONDS + 1 one-second bins.
  readonly #binSecond = new Float64Array(RATE_WINDOW_SECONDS + 1).fill(-1);
  readonly #binCount = new Float64Array(RATE_WINDOW_SECONDS + 1);
  #currentSecond = -1;
  #currentSlot = 0;

  /** Time of the most recent append, or `undefined` before the first. */
  get lastAppendTime(): Date | undefined {
    return this.#lastAppendMs < 0 ? undefined : new Date(this.#lastAppendMs);
  }

  /**
   * Appends per second over the last ~5 seconds (a real rate: 0 when idle for 5 s, and measured
   * over the time since the first append when the store is younger than that).
   */
  get appendsPerSecond(): number {
    if (this.#firstAppendMs < 0) return 0;
    const now = Date.now();
    const nowSecond = Math.floor(now / 1000);
    const oldest = nowSecond - RATE_WINDOW_SECONDS;
    let count = 0;
    for (let i = 0; i < this.#binSecond.length; i++) {
      const sec = this.#binSecond[i]!;
      if (sec >= oldest && sec <= nowSecond) count += this.#binCount[i]!;
    }
    const windowStart = Math.max(oldest * 1000, this.#firstAppendMs);
    const elapsedMs = Math.max(now - windowStart, 1000);
    return (count * 1000) / elapsedMs;
  }

  /** Records `n` appends at wall-clock time `nowMs` (the coarse clock). */
  recordAppends(n: number, nowMs: number): void {
    this.totalAppended += n;
    this.#lastAppendMs = nowMs;
    const second = Math.floor(nowMs / 1000);
    if (second !== this.#currentSecond) this.#roll(second, nowMs);
    this.#binCount[this.#currentSlot]! += n;
  }

  #roll(second: number, nowMs: number): void {
    if (this.#firstAppendMs < 0) this.#firstAppendMs = nowMs;
    this.#currentSecond = second;
    this.#currentSlot = second % this.#binSecond.length;
    this.#binSecond[this.#currentSlot] = second;
    this.#binCount[this.#currentSlot] = 0;
  }
}
