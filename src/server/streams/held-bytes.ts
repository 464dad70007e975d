// The memory charge of the events one stream holds, for the server's memory budget: one number per
// held event (bytes of its JSON text plus a fixed overhead), in a ring that grows with the stream
// like the stream's own ring, so an eviction gives back exactly what its event was charged. Owned by
// the server's thread.

/** Bytes charged per event on top of its JSON text: the event object, its ring slot, its columns. */
export const EVENT_OVERHEAD_BYTES = 160;

export class HeldBytes {
  readonly #capacity: number;
  #charges = new Float64Array(16);
  /** Ring position of the oldest charge. */
  #head = 0;
  #count = 0;
  /** Sum of the held charges. */
  total = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Charges of the `k` oldest events (what evicting them gives back), without changing anything. */
  oldest(k: number): number {
    let sum = 0;
    const cap = this.#charges.length;
    for (let i = 0, at = this.#head; i < k && i < this.#count; i++) {
      sum += this.#charges[at]!;
      if (++at === cap) at = 0;
    }
    return sum;
  }

  /** Adds `n` events of `each` bytes, evicting the oldest charges beyond the stream's capacity. */
  add(n: number, each: number): void {
    const evict = Math.max(0, this.#count + n - this.#capacity);
    this.total -= this.oldest(evict);
    this.#head = (this.#head + evict) % this.#charges.length;
    this.#count -= evict;
    this.#reserve(this.#count + Math.min(n, this.#capacity));
    const cap = this.#charges.length;
    let at = (this.#head + this.#count) % cap;
    for (let i = Math.max(0, n - this.#capacity); i < n; i++) {
      this.#charges[at] = each;
      if (++at === cap) at = 0;
    }
    const kept = Math.min(n, this.#capacity);
    this.#count += kept;
    this.total += kept * each;
  }

  /** The held charges, oldest first (for a snapshot). */
  list(): number[] {
    const out: number[] = new Array(this.#count);
    const cap = this.#charges.length;
    for (let i = 0, at = this.#head; i < this.#count; i++) {
      out[i] = this.#charges[at]!;
      if (++at === cap) at = 0;
    }
    return out;
  }

  /** Grows the ring (doubling, at most to the capacity) to hold `count` charges, oldest first. */
  #reserve(count: number): void {
    const old = this.#charges;
    if (count <= old.length) return;
    let size = old.length;
    while (size < count) size *= 2;
    const next = new Float64Array(Math.min(size, this.#capacity));
    for (let i = 0, at = this.#head; i < this.#count; i++) {
      next[i] = old[at]!;
      if (++at === old.length) at = 0;
    }
    this.#charges = next;
    this.#head = 0;
  }
}
