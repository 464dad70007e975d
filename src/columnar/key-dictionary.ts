// KeyDictionary: strings interned to dense u32 ids, shared by every thread through one
// SharedArrayBuffer (an open-addressing hash table + a UTF-8 byte arena), without locks.
// Concurrency: any thread inserts and looks up. A table entry is claimed by CAS (EMPTY→FILLING),
// filled with plain stores and published by one Atomics.store of its tag; readers load the tag first.
// Ids are never reused or removed, so each thread caches id↔string locally without invalidation.

import { describe, ErrorCode, EventStoreError, invalidArg } from '../errors.js';
import {
  E_ID,
  E_LENGTH,
  E_OFFSET,
  E_TAG,
  ENTRY_WORDS,
  K_ARENA_BYTES,
  K_ARENA_TOP,
  K_KEY_CAPACITY,
  K_NEXT_ID,
  K_TABLE_SIZE,
  type KeysLayout,
  layoutKeys,
  TAG_DEAD,
  TAG_EMPTY,
  TAG_FILLING,
} from './layout.js';

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function fnv1a(bytes: Uint8Array, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}

/** Interned strings shared across threads. */
export class KeyDictionary {
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #layout: KeysLayout;
  readonly #fillWaitMs: number;
  readonly #idsByKey = new Map<string, number>();
  readonly #keysById: (string | undefined)[] = [];
  #scratch = new Uint8Array(256);

  private constructor(buffer: SharedArrayBuffer, fillWaitMs: number) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer);
    const w = this.#words;
    // Header words were written before the buffer was shared (postMessage orders them).
    const keyCapacity = w[K_KEY_CAPACITY]!;
    const arenaBytes = w[K_ARENA_BYTES]!;
    this.#layout = layoutKeys(keyCapacity, arenaBytes);
    if (this.#layout.tableSize !== w[K_TABLE_SIZE]) throw invalidArg('`handle.keys` is not a key dictionary');
    this.#bytes = new Uint8Array(buffer, this.#layout.arenaOffset, arenaBytes);
    this.#fillWaitMs = fillWaitMs;
  }

  /** Allocates a dictionary for `keyCapacity` keys and `arenaBytes` bytes of UTF-8. */
  static create(keyCapacity: number, arenaBytes: number, fillWaitMs: number): KeyDictionary {
    const layout = layoutKeys(keyCapacity, arenaBytes);
    const buffer = new SharedArrayBuffer(layout.byteLength);
    const w = new Int32Array(buffer);
    w[K_KEY_CAPACITY] = keyCapacity;
    w[K_TABLE_SIZE] = layout.tableSize;
    w[K_ARENA_BYTES] = arenaBytes;
    return new KeyDictionary(buffer, fillWaitMs);
  }

  /** Wraps an existing dictionary buffer (from a handle). */
  static attach(buffer: SharedArrayBuffer, fillWaitMs: number): KeyDictionary {
    return new KeyDictionary(buffer, fillWaitMs);
  }

  /** Most keys the dictionary can hold. */
  get keyCapacity(): number {
    return this.#layout.keyCapacity;
  }

  /** Keys interned so far, by every thread. */
  get size(): number {
    // Acquire-load the id counter: ids below it are allocated (their entries may still be filling).
    return Math.min(Atomics.load(this.#words, K_NEXT_ID), this.#layout.keyCapacity);
  }

  /** Bytes of the arena used so far. */
  get arenaBytesUsed(): number {
    // Acquire-load the arena top (it may exceed the arena after a failed reservation).
    return Math.min(Atomics.load(this.#words, K_ARENA_TOP), this.#layout.arenaBytes);
  }

  /** The id of `key`, interning it when new. Throws ES_ERR_KEY_DICTIONARY_FULL when there is no room. */
  intern(key: string): number {
    const cached = this.#idsByKey.get(key);
    if (cached !== undefined) return cached;
    if (typeof key !== 'string') throw invalidArg(`a key must be a string, received ${describe(key)}`);
    const id = this.#probe(key, true);
    this.#remember(key, id);
    return id;
  }

  /** The id of `key` when interned by any thread, else -1. Never inserts. */
  lookup(key: string): number {
    const cached = this.#idsByKey.get(key);
    if (cached !== undefined) return cached;
    const id = this.#probe(key, false);
    if (id >= 0) this.#remember(key, id);
    return id;
  }

  /** The string of `id`, or `undefined` when no key has that id (yet). */
  keyOf(id: number): string | undefined {
    const cached = this.#keysById[id];
    if (cached !== undefined) return cached;
    if (!Number.isInteger(id) || id < 0 || id >= this.#layout.keyCapacity) return undefined;
    // Acquire-load the reverse entry: its table entry's offset/length were stored before it.
    const entryPlusOne = Atomics.load(this.#words, this.#layout.idsWord + id);
    if (entryPlusOne === 0) return undefined;
    const e = this.#layout.tableWord + (entryPlusOne - 1) * ENTRY_WORDS;
    const w = this.#words;
    const offset = w[e + E_OFFSET]!;
    const length = w[e + E_LENGTH]!;
    const key = decoder.decode(this.#bytes.slice(offset, offset + length));
    this.#remember(key, id);
    return key;
  }

  #remember(key: string, id: number): void {
    this.#idsByKey.set(key, id);
    this.#keysById[id] = key;
  }

  #encode(key: string): number {
    if (this.#scratch.length < key.length * 3) this.#scratch = new Uint8Array(key.length * 3);
    const { written } = encoder.encodeInto(key, this.#scratch);
    if (written > MAX_KEY_BYTES) {
      throw invalidArg(`a key must be at most ${MAX_KEY_BYTES} UTF-8 bytes, received ${written} bytes`);
    }
    return written;
  }

  #equals(offset: number, length: number, want: number): boolean {
    if (length !== want) return false;
    const bytes = this.#bytes;
    const scratch = this.#scratch;
    for (let i = 0; i < length; i++) if (bytes[offset + i] !== scratch[i]) return false;
    return true;
  }

  #probe(key: string, insert: boolean): number {
    const length = this.#encode(key);
    const hash = fnv1a(this.#scratch, length);
    const tag = hash | 3;
    const w = this.#words;
    const { tableSize, tableWord } = this.#layout;
    const mask = tableSize - 1;
    let i = hash & mask;
    let arenaOffset = -1;
    for (let probes = 0; probes < tableSize; ) {
      const e = tableWord + i * ENTRY_WORDS;
      // Acquire-load the entry tag: a published tag makes OFFSET/LENGTH/ID and the bytes visible.
      let t = Atomics.load(w, e + E_TAG);
      if (t === TAG_FILLING) t = this.#awaitFilled(e);
      if (t === tag) {
        if (this.#equals(w[e + E_OFFSET]!, w[e + E_LENGTH]!, length)) return w[e + E_ID]!;
      } else if (t === TAG_EMPTY) {
        if (!insert) return -1;
        if (arenaOffset < 0) arenaOffset = this.#reserveBytes(key, length);
        // Claim the empty entry; losing means someone filled it meanwhile: look at it again.
        if (Atomics.compareExchange(w, e + E_TAG, TAG_EMPTY, TAG_FILLING) !== TAG_EMPTY) continue;
        return this.#fill(e, i, tag, arenaOffset, length);
      }
      i = (i + 1) & mask;
      probes++;
    }
    if (!insert) return -1;
    throw new EventStoreError(
      ErrorCode.KEY_DICTIONARY_FULL,
      `the key dictionary table is full (keyCapacity ${this.#layout.keyCapacity}); cannot intern ${describe(key)}`,
    );
  }

  /** Spins (bounded by the fill wait) while an entry is FILLING; returns its tag after. */
  #awaitFilled(e: number): number {
    const w = this.#words;
    const deadline = performance.now() + this.#fillWaitMs;
    for (let spins = 0; ; spins++) {
      // Re-load the tag with acquire semantics (a plain read could be hoisted out of the loop).
      const t = Atomics.load(w, e + E_TAG);
      if (t !== TAG_FILLING) return t;
      if ((spins & 1023) === 1023 && performance.now() > deadline) return TAG_DEAD; // filler died: skip
    }
  }

  #reserveBytes(key: string, length: number): number {
    // Reserve `length` arena bytes for everyone at once; a failed reservation leaves the top past the end.
    const offset = Atomics.add(this.#words, K_ARENA_TOP, length);
    if (offset + length > this.#layout.arenaBytes) {
      throw new EventStoreError(
        ErrorCode.KEY_DICTIONARY_FULL,
        `the key dictionary arena is full (keyBytes ${this.#layout.arenaBytes}); cannot intern ${describe(key)}`,
      );
    }
    this.#bytes.set(this.#scratch.subarray(0, length), offset);
    return offset;
  }

  #fill(e: number, entry: number, tag: number, offset: number, length: number): number {
    const w = this.#words;
    // Take the next dense id (ids are handed out only to claimed entries).
    const id = Atomics.add(w, K_NEXT_ID, 1);
    if (id >= this.#layout.keyCapacity) {
      // Release the entry as DEAD so probes skip it; the key was not interned.
      Atomics.store(w, e + E_TAG, TAG_DEAD);
      throw new EventStoreError(
        ErrorCode.KEY_DICTIONARY_FULL,
        `the key dictionary holds keyCapacity (${this.#layout.keyCapacity}) keys; cannot intern a new key`,
      );
    }
    w[e + E_OFFSET] = offset;
    w[e + E_LENGTH] = length;
    w[e + E_ID] = id;
    // Publish the reverse entry (id → table entry) after the entry's words.
    Atomics.store(w, this.#layout.idsWord + id, entry + 1);
    // Publish the entry: the tag store releases OFFSET/LENGTH/ID and the arena bytes.
    Atomics.store(w, e + E_TAG, tag);
    return id;
  }
}
