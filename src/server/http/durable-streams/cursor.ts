// `Stream-Cursor` of the Durable Streams endpoint: the number of 20-second intervals since an epoch,
// sent with every long-poll and SSE control event so that CDNs collapse identical live requests yet
// never serve a cached answer in a loop. A client echoes it as `cursor=`; when the echoed cursor is
// at or past the current interval, the answer's cursor jumps ahead of it by a random 1-180 intervals
// (20 s to 1 h), so the next request's URL differs and a cache cannot hand back the same answer.

import { randomInt } from 'node:crypto';

/** Length of one cursor interval. */
const INTERVAL_MS = 20_000;
/** Cursors count intervals from 2024-10-09T00:00:00Z (the protocol's reference epoch). */
const EPOCH_MS = Date.UTC(2024, 9, 9);
/** The largest jump ahead of an echoed cursor, in intervals (one hour). */
const MAX_JUMP = 180;

/** The cursor to answer with at `nowMs`, given the `cursor=` the client echoed (if any). */
export function responseCursor(echoed: string | null, nowMs: number): string {
  const current = Math.floor((nowMs - EPOCH_MS) / INTERVAL_MS);
  const client = echoed === null || !/^[0-9]{1,15}$/.test(echoed) ? Number.NaN : Number(echoed);
  if (!(client >= current)) return String(current);
  return String(client + randomInt(1, MAX_JUMP + 1));
}
