// Runs the public Durable Streams conformance suite (@durable-streams/server-conformance-tests) against
// a base URL: vitest runs it in a child process on the small config in test/fixtures/durable-streams/,
// and its JSON report is read back, counted per group and printed. LFES_CONFORMANCE_FILTER runs only
// the tests whose name matches (vitest -t).

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './temp-dir.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'test/fixtures/durable-streams');

/** Passed tests the suite must reach (338 in 0.3.6; 6 need `subscriptions: true` and are skipped). */
export const MIN_CONFORMANCE_PASSED = 330;

interface AssertionResult {
  ancestorTitles: string[];
  title: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo' | 'disabled';
  failureMessages: string[];
}

export interface ConformanceResult {
  passed: number;
  failed: number;
  total: number;
  /** Whether LFES_CONFORMANCE_FILTER chose a subset. */
  filtered: boolean;
}

function runVitest(url: string, report: string, longPollMs: number): Promise<number> {
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
    env: { ...process.env, LFES_CONFORMANCE_URL: url, LFES_CONFORMANCE_LONG_POLL_MS: String(longPollMs) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

/**
 * Runs the suite against the server at `url` (whose long-poll timeout is `longPollMs`), prints the
 * pass count per group and every failure, and returns the counts.
 */
export async function runConformanceSuite(url: string, longPollMs: number): Promise<ConformanceResult> {
  const report = join(await tempDir('lfes-conformance-'), 'report.json');
  await runVitest(url, report, longPollMs);
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
      `  FAILED ${[...r.ancestorTitles, r.title].join(' > ')}\n    ${(r.failureMessages[0] ?? '').split('\n').slice(0, 8).join('\n    ')}`,
    );
  }
  const passed = results.filter((r) => r.status === 'passed').length;
  console.log(
    `  total: ${passed} passed, ${failed.length} failed, ${results.length - passed - failed.length} skipped`,
  );
  return {
    passed,
    failed: failed.length,
    total: results.length,
    filtered: (process.env.LFES_CONFORMANCE_FILTER ?? '') !== '',
  };
}
