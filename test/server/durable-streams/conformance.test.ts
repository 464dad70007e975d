// The public Durable Streams conformance suite (@durable-streams/server-conformance-tests) against a
// real server on port 0 with a data directory (journal on): vitest runs the suite in a child process
// (test/fixtures/durable-streams/), its JSON report is read back, and the pass count per group is
// printed and checked. LFES_CONFORMANCE_FILTER runs only the tests whose name matches (vitest -t).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../helpers/server.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/durable-streams');
/** Passed tests the suite must reach (338 in 0.3.6; 6 need `subscriptions: true` and are skipped). */
const MIN_PASSED = 330;
const LONG_POLL_MS = 3_000;

interface AssertionResult {
  ancestorTitles: string[];
  title: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo' | 'disabled';
  failureMessages: string[];
}

function runVitest(url: string, report: string): Promise<number> {
  const args = [
    join(root, 'node_modules/vitest/vitest.mjs'),
    'run',
    '--config',
    join(fixtures, 'vitest.config.mjs'),
  ];
  args.push('--reporter=json', `--outputFile=${report}`);
  const filter = process.env.LFES_CONFORMANCE_FILTER;
  if (filter !== undefined && filter !== '') args.push('-t', filter);
  const child = spawn(process.execPath, args, {
    cwd: fixtures,
    env: { ...process.env, LFES_CONFORMANCE_URL: url, LFES_CONFORMANCE_LONG_POLL_MS: String(LONG_POLL_MS) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

test('the server passes the Durable Streams conformance suite', { timeout: 15 * 60_000 }, async () => {
  const server = await startServer({ corsOrigin: '*', longPollTimeoutMs: LONG_POLL_MS, maxStreams: 20_000 });
  const report = join(await tempDir('lfes-conformance-'), 'report.json');
  try {
    await runVitest(server.url, report);
  } finally {
    await server.cleanup();
  }
  const json = JSON.parse(await readFile(report, 'utf8')) as {
    testResults: { assertionResults: AssertionResult[] }[];
  };
  const results = json.testResults.flatMap((f) => f.assertionResults);
  const groups = new Map<string, { passed: number; failed: number; skipped: number }>();
  for (const r of results) {
    const group = r.ancestorTitles[0] ?? '(top)';
    const g = groups.get(group) ?? { passed: 0, failed: 0, skipped: 0 };
    if (r.status === 'passed') g.passed++;
    else if (r.status === 'failed') g.failed++;
    else g.skipped++;
    groups.set(group, g);
  }
  for (const [group, g] of groups) {
    console.log(`  ${group}: ${g.passed} passed, ${g.failed} failed, ${g.skipped} skipped`);
  }
  const failed = results.filter((r) => r.status === 'failed');
  for (const r of failed) {
    console.log(
      `  FAILED ${[...r.ancestorTitles, r.title].join(' > ')}\n    ${(r.failureMessages[0] ?? '').split('\n')[0]}`,
    );
  }
  const passed = results.filter((r) => r.status === 'passed').length;
  console.log(
    `  total: ${passed} passed, ${failed.length} failed, ${results.length - passed - failed.length} skipped`,
  );
  const filtered = (process.env.LFES_CONFORMANCE_FILTER ?? '') !== '';
  assert.ok(filtered || passed >= MIN_PASSED, `${passed} tests passed, expected at least ${MIN_PASSED}`);
  assert.ok(results.length > 0, 'vitest reported no tests');
});
