// The public Durable Streams conformance suite (@durable-streams/server-conformance-tests) against a
// real server on port 0 with a data directory (journal on); see test/helpers/conformance.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_CONFORMANCE_PASSED, runConformanceSuite } from '../../helpers/conformance.ts';
import { startServer } from '../../helpers/server.ts';

const LONG_POLL_MS = 3_000;

test('the server passes the Durable Streams conformance suite', { timeout: 15 * 60_000 }, async () => {
  const server = await startServer({ corsOrigin: '*', longPollTimeoutMs: LONG_POLL_MS, maxStreams: 20_000 });
  let result: Awaited<ReturnType<typeof runConformanceSuite>>;
  try {
    result = await runConformanceSuite(server.url, LONG_POLL_MS);
  } finally {
    await server.cleanup();
  }
  assert.ok(result.total > 0, 'vitest reported no tests');
  assert.ok(
    result.filtered || result.passed >= MIN_CONFORMANCE_PASSED,
    `${result.passed} tests passed, expected at least ${MIN_CONFORMANCE_PASSED}`,
  );
});
