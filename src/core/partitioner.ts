// Stable partition hashing: the same key maps to the same partition in every process, on every run,
// for single and batch appends alike (the .NET original used a per-process random seed).
// Strings: FNV-1a over UTF-16 code units; numbers: FNV-1a over the IEEE-754 bytes (-0 as 0, any NaN
// as one NaN). Both end with the murmur3 finalizer so that small keys spread over small partition counts.
// Pure functions, no allocation: safe from any thread.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit FNV-1a hash of a string's UTF-16 code units, finalized with murmur3's fmix32. */
export function hashString(key: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (c >>> 8), FNV_PRIME);
  }
  return fmix32(h);
}

/** 32-bit FNV-1a hash of a number's float64 bytes, finalized with murmur3's fmix32. */
export function hashNumber(key: number): number {
  f64[0] = key === 0 ? 0 : Number.isNaN(key) ? Number.NaN : key;
  let h = FNV_OFFSET;
  for (let w = 0; w < 2; w++) {
    const word = u32[w] as number;
    h = Math.imul(h ^ (word & 0xff), FNV_PRIME);
    h = Math.imul(h ^ ((word >>> 8) & 0xff), FNV_PRIME);
    h = Math.imul(h ^ ((word >>> 16) & 0xff), FNV_PRIME);
    h = Math.imul(h ^ (word >>> 24), FNV_PRIME);
  }
  return fmix32(h);
}

/**
 * The partition of `key` among `partitions` partitions: `hash(key) % partitions`.
 * This is the function every `partitionKey` append uses; it is part of the public contract.
 */
export function partitionForKey(key: string | number, partitions: number): number {
  const h = typeof key === 'string' ? hashString(key) : hashNumber(key);
  return h % partitions;
}
