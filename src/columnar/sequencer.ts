// Sequencer: the claim → write → publish protocol of one partition's ring, shared by every thread.
// Writers claim a range of sequences per batch (CAS on CLAIM), wait until the ring's previous lap of
// those slots is behind the cursor (gating), mark the batch's first slot CLAIMED, write, and publish
// it with one CAS. Anyone advances CURSOR over published or aborted slots; a batch whose writer
// stalled longer than `abortTimeoutMs` is aborted by whoever waits for it. Readers never wait: they
// read below CURSOR and validate against CLAIM (docs/architecture.md, "ColumnarEventStore").

import {
  abortedStamp,
  claimedStamp,
  controlIndex,
  F_ABORTED,
  F_ABORTING,
  F_APPENDED_HI,
  F_APPENDED_LO,
  F_CLAIM,
  F_CURSOR,
  F_FLOOR,
  NO_FLOOR,
  STATE_INTERIOR,
  sequenceModulus,
} from './layout.js';

/** One partition's view of the shared control words and slot stamps. */
export class Sequencer {
  readonly capacity: number;
  /** Sequences wrap modulo this multiple of `capacity` (< 2^30). */
  readonly modulus: number;
  readonly stamps: Int32Array;
  readonly #ctl: Int32Array;
  readonly #claimAt: number;
  readonly #cursorAt: number;
  readonly #floorAt: number;
  readonly #abortedAt: number;
  readonly #appendedLoAt: number;
  readonly #appendedHiAt: number;
  readonly #abortingAt: number;
  readonly #half: number;
  readonly #abortTimeoutMs: number;
  /** Thread-local stall tracking for readers: the cursor seen stuck, and since when. */
  #stallCursor = -1;
  #stallSinceMs = 0;

  constructor(
    ctl: Int32Array,
    p: number,
    stride: number,
    capacity: number,
    stamps: Int32Array,
    abortTimeoutMs: number,
  ) {
    this.#ctl = ctl;
    this.capacity = capacity;
    this.modulus = sequenceModulus(capacity);
    this.#half = Math.floor(this.modulus / 2);
    this.stamps = stamps;
    this.#claimAt = controlIndex(p, F_CLAIM, stride);
    this.#cursorAt = controlIndex(p, F_CURSOR, stride);
    this.#floorAt = controlIndex(p, F_FLOOR, stride);
    this.#abortedAt = controlIndex(p, F_ABORTED, stride);
    this.#appendedLoAt = controlIndex(p, F_APPENDED_LO, stride);
    this.#appendedHiAt = controlIndex(p, F_APPENDED_HI, stride);
    this.#abortingAt = controlIndex(p, F_ABORTING, stride);
    this.#abortTimeoutMs = abortTimeoutMs;
  }

  /** Initial values of a new partition (before the buffer is shared). */
  static initialize(ctl: Int32Array, p: number, stride: number): void {
    ctl[controlIndex(p, F_FLOOR, stride)] = NO_FLOOR;
  }

  /** `x` modulo M, for x in (-M, 2M). */
  wrap(x: number): number {
    const m = this.modulus;
    return x >= m ? x - m : x < 0 ? x + m : x;
  }

  /** Signed distance a - b of two sequences (exact while they are less than M/2 apart). */
  delta(a: number, b: number): number {
    const d = a - b;
    return d > this.#half ? d - this.modulus : d < -this.#half ? d + this.modulus : d;
  }

  // ----- writer side ---------------------------------------------------------------------------

  /** Claims `n` consecutive sequences; returns the first. */
  claim(n: number): number {
    const ctl = this.#ctl;
    const at = this.#claimAt;
    for (;;) {
      // Read the next free sequence.
      const s = Atomics.load(ctl, at);
      // Take [s, s+n) if nobody else took s meanwhile (CAS, once per batch).
      if (Atomics.compareExchange(ctl, at, s, this.wrap(s + n)) === s) return s;
    }
  }

  /**
   * Waits until the previous lap of the slots of [s, s+n) is behind the cursor, so the batch never
   * overwrites a slot still being written. Bounded: after `abortTimeoutMs` the stalled batch at the
   * cursor is aborted; after three times that the wait gives up and returns false (the claimed
   * range then becomes a hole that the next waiter aborts).
   */
  gate(s: number, n: number): boolean {
    const target = this.wrap(s + n - this.capacity);
    const ctl = this.#ctl;
    // Fast path: the cursor is usually far ahead of the previous lap.
    if (this.delta(Atomics.load(ctl, this.#cursorAt), target) >= 0) return true;
    const started = performance.now();
    let abortedAt = -1;
    for (let spins = 0; ; spins++) {
      this.advance();
      // Re-load the cursor (acquire): published or aborted slots below it are final.
      const c = Atomics.load(ctl, this.#cursorAt);
      if (this.delta(c, target) >= 0) return true;
      if ((spins & 63) !== 63) continue;
      const waitedMs = performance.now() - started;
      if (waitedMs > 3 * this.#abortTimeoutMs) return false;
      if (waitedMs > this.#abortTimeoutMs && abortedAt !== c) {
        abortedAt = c;
        this.abortStalled(c, s);
      }
      pause();
    }
  }

  /**
   * Marks the batch starting at `s` as being written: CASes its first slot from the previous lap's
   * stamp to CLAIMED(s). Returns false when the batch was aborted meanwhile.
   */
  mark(s: number): boolean {
    const slot = s % this.capacity;
    const stamps = this.stamps;
    // Load the first slot's stamp: the previous lap's, or ABORTED(s) if someone gave up on us.
    const prev = Atomics.load(stamps, slot);
    if (prev === abortedStamp(s)) return false;
    // Claim the first slot; the CAS makes marking and aborting mutually exclusive.
    return Atomics.compareExchange(stamps, slot, prev, claimedStamp(s)) === prev;
  }

  /**
   * Plain stores of INTERIOR(z) into the later slots of the batch [s, s+n) whose first slot is `slot`
   * (`s % capacity`, which the caller has): the publishing CAS on the first slot releases them.
   */
  writeInteriors(s: number, slot: number, n: number): void {
    const stamps = this.stamps;
    const cap = this.capacity;
    const m = this.modulus;
    let z = s;
    let sl = slot;
    for (let k = 1; k < n; k++) {
      if (++z === m) z = 0;
      if (++sl === cap) sl = 0;
      stamps[sl] = STATE_INTERIOR | z;
    }
  }

  /** Whether the batch starting at `s` is still ours (a plain read: a cheap check between column passes). */
  owns(s: number): boolean {
    return this.stamps[s % this.capacity] === claimedStamp(s);
  }

  /** Publishes the batch starting at `s` (CLAIMED→PUBLISHED); false when it was aborted meanwhile. */
  publish(s: number): boolean {
    // Release the batch's rows: every plain store above happens-before whoever acquires this stamp.
    return Atomics.compareExchange(this.stamps, s % this.capacity, claimedStamp(s), s) === claimedStamp(s);
  }

  /** Adds `n` published rows to the partition's lifetime count. */
  countAppended(n: number): void {
    const ctl = this.#ctl;
    // Add to the low word; a carry out of 32 bits goes to the high word.
    const before = Atomics.add(ctl, this.#appendedLoAt, n) >>> 0;
    // Carry into the high word of the 64-bit appended count.
    if (before + n > 0xffffffff) Atomics.add(ctl, this.#appendedHiAt, 1);
  }

  /**
   * Moves the cursor over every published batch and aborted slot that follows it. Lock-free: any
   * thread may help; a lost CAS means someone else moved it.
   */
  advance(): void {
    const ctl = this.#ctl;
    const stamps = this.stamps;
    const cap = this.capacity;
    for (;;) {
      // Acquire the cursor.
      const c = Atomics.load(ctl, this.#cursorAt);
      const slot = c % cap;
      // Acquire the stamp at the cursor: PUBLISHED(c) also makes the batch's rows and INTERIOR stamps visible.
      const st = Atomics.load(stamps, slot);
      let len = 1;
      if (st === c) {
        // The batch runs over the INTERIOR stamps that follow its first slot (plain reads: they were
        // stored before the publishing CAS; the slot after the batch is never INTERIOR of its sequence).
        let z = c;
        let sl = slot;
        for (;;) {
          if (++z === this.modulus) z = 0;
          if (++sl === cap) sl = 0;
          if (len === cap || stamps[sl] !== (STATE_INTERIOR | z)) break;
          len++;
        }
      } else if (st !== abortedStamp(c)) return;
      // Move the cursor past the batch; losing the CAS means another thread already did.
      Atomics.compareExchange(ctl, this.#cursorAt, c, this.wrap(c + len));
    }
  }

  /** Retires the clear() floor once the ring has moved a full lap past it (keeps `delta` exact). */
  retireFloor(): void {
    const ctl = this.#ctl;
    // Acquire the floor; NO_FLOOR is the common case and costs one load per batch.
    const f = Atomics.load(ctl, this.#floorAt);
    if (f === NO_FLOOR) return;
    // Acquire the cursor to measure how far past the floor the ring is.
    if (this.delta(Atomics.load(ctl, this.#cursorAt), f) > this.capacity) {
      // Retire it unless a newer clear() replaced it meanwhile.
      Atomics.compareExchange(ctl, this.#floorAt, f, NO_FLOOR);
    }
  }

  /**
   * Gives up on the batch that holds the cursor at `c` (its writer stalled or died between claim
   * and publish) and on any unmarked claims right after it, up to the first marked batch, the
   * claim head or `stopAt` (the caller's own unmarked batch). Aborted slots are counted.
   */
  abortStalled(c: number, stopAt: number): void {
    const ctl = this.#ctl;
    const stamps = this.stamps;
    const cap = this.capacity;
    // Re-check that the cursor is still stuck at c.
    if (Atomics.load(ctl, this.#cursorAt) !== c) return;
    // Announce the attempt before touching any stamp: queries then stop trusting the cursor alone.
    Atomics.add(ctl, this.#abortingAt, 1);
    // Acquire the claim head: sequences at or past it belong to nobody yet.
    const head = Atomics.load(ctl, this.#claimAt);
    let z = c;
    let aborted = 0;
    let first = true;
    while (z !== head && z !== stopAt) {
      const slot = z % cap;
      // Acquire the stamp of sequence z.
      const st = Atomics.load(stamps, slot);
      if (st === z || st === abortedStamp(z)) break; // published or already aborted: advance() handles it
      if (st === claimedStamp(z) && !first) break; // another marked batch, maybe live: not ours to judge
      // The stalled batch at the cursor (marked or not), then its tail: INTERIOR stamps its writer
      // left, or the previous lap's stamps. CAS so that a writer marking or publishing now wins or loses whole.
      if (Atomics.compareExchange(stamps, slot, st, abortedStamp(z)) === st) {
        aborted++;
        first = false;
        z = this.wrap(z + 1);
      }
    }
    // Count the aborted slots for statistics.
    if (aborted > 0) Atomics.add(ctl, this.#abortedAt, aborted);
    this.advance();
  }

  // ----- reader side ---------------------------------------------------------------------------

  /**
   * The range of sequences a query reads: [lo, cursor). Helps the cursor forward first, and when it
   * has been stuck on the same sequence with claims pending for `abortTimeoutMs` (measured by this
   * thread across its queries), aborts the stalled batch so queries see the rows after it.
   * Returns the cursor; `lo` is left in `this.lo`.
   */
  readRange(): number {
    const ctl = this.#ctl;
    this.advance();
    // Acquire the cursor: every row below it was published (or aborted) before this load.
    let c = Atomics.load(ctl, this.#cursorAt);
    // Acquire the claim head to see whether writers are pending at the cursor.
    if (Atomics.load(ctl, this.#claimAt) !== c) {
      if (c !== this.#stallCursor) {
        this.#stallCursor = c;
        this.#stallSinceMs = performance.now();
      } else if (performance.now() - this.#stallSinceMs > this.#abortTimeoutMs) {
        this.abortStalled(c, -1);
        // Re-acquire the cursor after the abort.
        c = Atomics.load(ctl, this.#cursorAt);
      }
    }
    let lo = this.wrap(c - this.capacity);
    // Acquire the clear() floor: rows below it are hidden.
    const f = Atomics.load(ctl, this.#floorAt);
    if (f !== NO_FLOOR) {
      const d = this.delta(c, f);
      if (d >= 0 && d < this.capacity) lo = f;
    }
    this.lo = lo;
    // Acquire the abort announcements (after the cursor load) and the published count.
    this.allPublished = Atomics.load(ctl, this.#abortingAt) === 0 && this.appended >= this.capacity;
    return c;
  }

  /** Lower end of the last `readRange()`. */
  lo = 0;

  /**
   * Whether every row of the last `readRange()` is published, so the per-row stamp check can be
   * skipped: no abort was ever attempted in this partition (checked after the cursor load, and an
   * attempt is announced before any stamp changes) and at least a ring's worth of rows was published
   * (no never-written slot lies in the window). Overwrites are still caught by `validate`.
   */
  allPublished = false;

  /**
   * Whether rows read from sequence `a` onward are still intact: no writer has claimed the sequence
   * that overwrites `a`'s slot. An RMW (add 0) rather than a load, so that every plain read above it
   * happens-before any later claim's writes (the claim CAS reads this RMW's write).
   * Returns the first still-intact sequence when `a` is not (to re-read from there).
   */
  validate(a: number): number {
    // RMW on CLAIM: orders the chunk's plain reads before every later claim (see docs).
    const head = Atomics.add(this.#ctl, this.#claimAt, 0);
    const oldestIntact = this.wrap(head - this.capacity);
    return this.delta(a, oldestIntact) >= 0 ? a : oldestIntact;
  }

  /** Hides every row published so far (queries start at the cursor). */
  clear(): void {
    this.advance();
    // Acquire the cursor and publish it as the new floor.
    Atomics.store(this.#ctl, this.#floorAt, Atomics.load(this.#ctl, this.#cursorAt));
  }

  /** Slots aborted so far. */
  get abortedSlots(): number {
    // Acquire-load the aborted counter.
    return Atomics.load(this.#ctl, this.#abortedAt) >>> 0;
  }

  /** Rows published since creation. */
  get appended(): number {
    // Acquire-load the high word, then the low word (a carry in between can make this briefly low).
    const hi = Atomics.load(this.#ctl, this.#appendedHiAt) >>> 0;
    // Acquire-load the low word.
    const lo = Atomics.load(this.#ctl, this.#appendedLoAt) >>> 0;
    return hi * 2 ** 32 + lo;
  }

  /** The clear() floor now, or NO_FLOOR. */
  get floor(): number {
    // Acquire-load the floor.
    return Atomics.load(this.#ctl, this.#floorAt);
  }

  /**
   * The unwrapped position of `raw`, a cursor value read earlier: sequences passed by the cursor
   * (rows published plus slots aborted) as a number that keeps growing past the modulus. The 64-bit
   * published count plus the aborted count locates the lap: it differs from the true position only by
   * the rows in flight (at most a ring plus the open claims, far less than M/2), and `raw` gives the
   * exact position within the lap. A carry of the published count in flight between its two words
   * reads 2^32 low; callers that need monotonic positions check for it.
   */
  unwrap(raw: number): number {
    const estimate = this.appended + this.abortedSlots;
    return estimate + this.delta(raw, estimate % this.modulus);
  }

  /**
   * Sets the counters of a partition that restore wrote `rows` rows into, ending at unwrapped
   * position `position`: cursor and claim head at the position, the published count equal to it, and
   * a floor at the first restored row when fewer rows than the ring holds were restored (so a query
   * never skips the stamp check of a slot that holds no row). Only while no other thread uses the
   * partition; the final store of CLAIM publishes the rows and stamps written before it.
   */
  restoreState(position: number, rows: number): void {
    const ctl = this.#ctl;
    const raw = position % this.modulus;
    // Every field by Atomics.store, the claim head last.
    Atomics.store(ctl, this.#appendedHiAt, Math.floor(position / 2 ** 32) | 0);
    Atomics.store(ctl, this.#appendedLoAt, (position % 2 ** 32) | 0);
    Atomics.store(ctl, this.#abortedAt, 0);
    Atomics.store(ctl, this.#floorAt, rows < this.capacity ? this.wrap(raw - rows) : NO_FLOOR);
    Atomics.store(ctl, this.#cursorAt, raw);
    // Release everything above to the next thread that loads the claim head.
    Atomics.store(ctl, this.#claimAt, raw);
  }

  /** The cursor now (a snapshot's version). */
  get cursor(): number {
    // Acquire-load the cursor.
    return Atomics.load(this.#ctl, this.#cursorAt);
  }

  /** The claim head now (a store nothing was ever claimed in may be restored). */
  get claimHead(): number {
    // Acquire-load the claim head.
    return Atomics.load(this.#ctl, this.#claimAt);
  }
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));

/** Yields the CPU briefly inside a bounded spin (Node 20 has no Atomics.pause). */
function pause(): void {
  // Sleep ~20 µs on a private cell nobody notifies: lets a descheduled writer run on 2 cores.
  Atomics.wait(pauseCell, 0, 0, 0.02);
}
