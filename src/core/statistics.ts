// Lifetime counters and the recent append rate of one store. Updated by the store's thread on every
// append; read by anyone on that thread. Counters are monotonic: `clear()` does not reset them, so
// they export cleanly as metrics.
// The append path only adds to `totalAppended` and counts down a budget: the wall clock is read (and
// the appends since the last reading are binned) once per event-loop turn or every 1024 appends, so
// `lastAppendTime` and the rate are at most that stale, and an append costs no clock read.

const RATE_WINDOW_SECONDS = 5;
/** Appends between two clock readings within one synchronous burst. */
const RESTAMP_EVERY = 1024;

/** Statistics of an {@link EventStore}. A live view: read the properties when needed. */
export class EventStoreStatistics {
  /** Events appended since creation (including events later evicted or cleared). */
  totalAppended = 0;
  /** Events evicted by `overwrite` to make room for newer ones. */
  totalDiscarded = 0;
  /** Appends refused by `overflow: 'reject'`. */
  totalRejected = 0;

  /** Appends left before the clock must be read again; 0 forces a reading on the next append. */
  #budget = 0;
  #expiryScheduled = false;
  /** Wall-clock time (ms) of the appends since the last reading; -1 before the first append. */
  #stampMs = -1;
  /** `totalAppended` already counted in the rate bins (the rest carry `#stampMs`). */
  #binned = 0;
  #firstAppendMs = -1;
  // Appends per whole second, a ring of RATE_WINDOW_SECONDS + 1 one-second bins.
  readonly #binSecond = new Float64Array(RATE_WINDOW_SECONDS + 1).fill(-1);
  readonly #binCount = new Float64Array(RATE_WINDOW_SECONDS + 1);
  #currentSecond = -1;
  #currentSlot = 0;
  readonly #expire = (): void => {
    this.#expiryScheduled = false;
    this.#budget = 0;
  };

  /** Time of the most recent append, or `undefined` before the first. */
  get lastAppendTime(): Date | undefined {
    return this.#stampMs < 0 ? undefined : new Date(this.#stampMs);
  }

  /**
   * Appends per second over the last ~5 seconds (a real rate: 0 when idle for 5 s, and measured
   * over the time since the first append when the store is younger than that).
   */
  get appendsPerSecond(): number {
    this.#binUpTo(this.totalAppended);
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

  /** Records `n` appends (n ≥ 1) made now. */
  recordAppends(n: number): void {
    this.totalAppended += n;
    if ((this.#budget -= n) < 0) this.#restamp(n);
  }

  /** Reads the clock: the earlier appends keep the previous time, the latest `n` get the new one. */
  #restamp(n: number): void {
    this.#binUpTo(this.totalAppended - n);
    this.#stampMs = Date.now();
    this.#budget = RESTAMP_EVERY;
    if (!this.#expiryScheduled) {
      this.#expiryScheduled = true;
      setImmediate(this.#expire);
    }
  }

  /** Bins the appends up to `total` not binned yet, at the time of the clock reading they carry. */
  #binUpTo(total: number): void {
    const pending = total - this.#binned;
    if (pending <= 0) return;
    this.#binned = total;
    const second = Math.floor(this.#stampMs / 1000);
    if (second !== this.#currentSecond) this.#roll(second, this.#stampMs);
    this.#binCount[this.#currentSlot]! += pending;
  }

  #roll(second: number, nowMs: number): void {
    if (this.#firstAppendMs < 0) this.#firstAppendMs = nowMs;
    this.#currentSecond = second;
    this.#currentSlot = second % this.#binSecond.length;
    this.#binSecond[this.#currentSlot] = second;
    this.#binCount[this.#currentSlot] = 0;
  }
}
