// Retry delays of one save job: base × factor^(attempt − 1), ± 20 % jitter, capped. Each job counts its
// own attempts from 1, so delays never creep up across jobs (the .NET original shared one
// ever-growing delay across every job of the process).

/** Largest delay between two attempts. */
export const MAX_BACKOFF_DELAY_MS = 30_000;
const JITTER = 0.2;

/** Delay before retry number `attempt` (1 = after the first failure). `random` is in [0, 1). */
export function backoffDelayMs(
  attempt: number,
  baseMs: number,
  factor: number,
  random: number = Math.random(),
): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = baseMs * factor ** (n - 1);
  const capped = Number.isFinite(raw) ? Math.min(raw, MAX_BACKOFF_DELAY_MS) : MAX_BACKOFF_DELAY_MS;
  return Math.max(0, capped * (1 + JITTER * (2 * random - 1)));
}
