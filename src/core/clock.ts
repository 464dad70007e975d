// A coarse wall clock for the append path. `Date.now()` costs ~55 ns on these VMs, more than an
// append itself, so the clock is read once per event-loop turn (invalidated by `setImmediate`) and
// at least every 1024 calls within one long synchronous burst. Single-threaded: each worker has its own.

const REFRESH_EVERY = 1024;

let nowMs = 0;
let valid = false;
let calls = 0;

function invalidate(): void {
  valid = false;
}

/**
 * Wall-clock milliseconds, at most one event-loop turn or 1024 calls old. Cheap enough for every append.
 */
export function coarseNow(): number {
  if (!valid || ++calls === REFRESH_EVERY) {
    nowMs = Date.now();
    calls = 0;
    if (!valid) {
      valid = true;
      setImmediate(invalidate);
    }
  }
  return nowMs;
}
