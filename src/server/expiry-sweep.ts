// The expiry sweep: once a second, the streams whose TTL ran out or whose expiry time passed (by this
// server's clock), and deleted streams that no fork reads any more, are removed by an `expire`
// command carrying that time, so the removal is journaled (and, in a cluster, on the log) and every
// replay decides it alike. Readers see an expired stream as gone from its expiry on (the endpoint
// checks the clock), so the sweep only frees its memory and its name. Runs on the server's thread.

import type { Logger } from 'pino';
import type { CommandExecutor } from './streams/commands.js';
import type { StreamRegistry } from './streams/stream-registry.js';

/** How often the sweep looks for expired streams. */
export const EXPIRY_SWEEP_MS = 1_000;

/** Starts the sweep; returns the function that stops it. */
export function startExpirySweep(
  registry: StreamRegistry,
  executor: CommandExecutor,
  logger: Logger,
  intervalMs = EXPIRY_SWEEP_MS,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    const now = Date.now();
    const streams = registry.expiredNames(now);
    if (streams.length === 0) return;
    running = true;
    executor
      .execute({ type: 'expire', streams, timestamp: now })
      .then(
        ({ removed }) => {
          if (removed.length > 0) logger.debug({ removed }, 'expired streams removed');
        },
        (err: unknown) => logger.warn({ err }, 'the expiry sweep failed; it retries'),
      )
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
