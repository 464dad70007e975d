// The idempotent producer's retry delays, on node:test's mocked setTimeout: each attempt after a
// failure happens once its delay has passed, and no delay exceeds maxRetryDelayMs.

import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { ErrorCode, EventStoreClient } from '../../src/client/index.ts';

/** Resolves once the pending promise callbacks and I/O callbacks have run (setImmediate is not mocked). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function attemptsUntilStable(attempts: () => number): Promise<number> {
  let seen = -1;
  while (seen !== attempts()) {
    seen = attempts();
    for (let i = 0; i < 5; i++) await settle();
  }
  return seen;
}

describe('IdempotentProducer retries', () => {
  it('doubles the delay from retryDelayMs and never waits longer than maxRetryDelayMs', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let attempts = 0;
      const failing = (async () => {
        attempts++;
        throw new TypeError('fetch failed');
      }) as typeof fetch;
      const es = new EventStoreClient('http://a:1', { fetch: failing });
      const producer = es.producer('p', {
        epoch: 1,
        maxAttempts: 8,
        retryDelayMs: 100,
        maxRetryDelayMs: 1_000,
      });
      const outcome = producer.append('s', { x: 1 }).then(
        () => assert.fail('every attempt fails'),
        (err: unknown) => err,
      );
      assert.equal(await attemptsUntilStable(() => attempts), 1);
      // Delays before attempts 2..8: 100, 200, 400, 800, then 1,600, 3,200, 6,400 capped at 1,000.
      const delays = [100, 200, 400, 800, 1_000, 1_000, 1_000];
      for (const [i, delay] of delays.entries()) {
        mock.timers.tick(delay - 1);
        assert.equal(await attemptsUntilStable(() => attempts), i + 1, `attempt ${i + 2} waits ${delay} ms`);
        mock.timers.tick(1);
        assert.equal(await attemptsUntilStable(() => attempts), i + 2, `attempt ${i + 2} after ${delay} ms`);
      }
      const err = (await outcome) as { code?: string };
      assert.equal(err.code, ErrorCode.NETWORK);
      assert.equal(attempts, 8);
    } finally {
      mock.timers.reset();
    }
  });
});
