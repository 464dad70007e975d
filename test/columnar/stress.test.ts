// Stress (T09, T13) and mutation checks (T10) of the columnar store across real worker threads:
// writers append self-checking rows with seeded noise at the protocol's critical points while live
// readers query and snapshot; a final audit counts lost, duplicated, torn and out-of-order rows.
// LFES_STRESS_TRIALS / LFES_STRESS_SEED lengthen or replay the run; seeds print on failure.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeTrial, runTrial, type TrialConfig, violated } from '../helpers/columnar-harness.ts';
import type { WriteStrategy } from '../helpers/columnar-write-strategies.ts';

const TRIALS = Number(process.env.LFES_STRESS_TRIALS ?? 4);
const BASE_SEED = Number(process.env.LFES_STRESS_SEED ?? 20_261_127);

function config(seed: number, overrides: Partial<TrialConfig> = {}): TrialConfig {
  return {
    seed,
    writers: 2,
    readers: 1,
    rowsPerWriter: 10_000,
    maxBatch: 8,
    partitions: 2,
    // Even trials wrap the ring many times (overwrites race with readers); odd trials never wrap, so
    // every acknowledged row must be present in the final audit.
    capacityPerPartition: seed % 2 === 0 ? 1024 : 65_536,
    noiseProbability: 0.05,
    strategy: 'correct',
    abortTimeoutMs: 1000,
    ...overrides,
  };
}

describe('ColumnarEventStore under concurrent writers and readers', () => {
  it(`loses, duplicates, tears and reorders no row over ${TRIALS} seeded noisy trials`, async () => {
    const failures: string[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const c = config(BASE_SEED + t);
      const r = await runTrial(c);
      const line = describeTrial(c, r);
      console.log(`  ${line}`);
      if (violated(r)) failures.push(line);
      assert.ok(r.acked > 0 && r.present > 0, `the trial appended nothing: ${line}`);
      assert.ok(r.liveRowsChecked > 0, `the live reader checked nothing: ${line}`);
    }
    assert.deepEqual(failures, [], `violations (replay with LFES_STRESS_SEED):\n${failures.join('\n')}`);
  });

  it('keeps block summaries exact while the ring wraps under two writers and a reader', async () => {
    // Two blocks of 4096 slots lapped ~5 times: the reader's summaries are made, used and outdated
    // while writers overwrite them; after the writers stop, its answers must equal a fresh read.
    const c = config(BASE_SEED, { partitions: 1, capacityPerPartition: 8192, rowsPerWriter: 20_000 });
    const r = await runTrial(c);
    console.log(`  ${describeTrial(c, r)}`);
    assert.equal(violated(r), false, describeTrial(c, r));
    assert.ok(r.liveRowsChecked > 0);
  });

  it('keeps every invariant with 4 writers and 2 readers oversubscribing 2 cores', async () => {
    const c = config(BASE_SEED + 1000, {
      writers: 4,
      readers: 2,
      rowsPerWriter: 5000,
      capacityPerPartition: 512,
    });
    const r = await runTrial(c);
    console.log(`  ${describeTrial(c, r)}`);
    assert.equal(violated(r), false, describeTrial(c, r));
    assert.equal(r.acked, 20_000);
  });
});

/** Runs trials of a broken variant until one detects it (at most `max`); returns the tally. */
async function detect(strategy: WriteStrategy, overrides: Partial<TrialConfig>, max: number) {
  const lines: string[] = [];
  let detected = 0;
  let trials = 0;
  while (trials < max && detected === 0) {
    const c = config(BASE_SEED + 500 + trials, { strategy, abortTimeoutMs: 100, ...overrides });
    const r = await runTrial(c);
    trials++;
    if (violated(r)) detected++;
    lines.push(describeTrial(c, r));
  }
  for (const l of lines) console.log(`  ${l}`);
  return { detected, trials, lines };
}

describe('the stress harness (mutation check)', () => {
  it('detects a writer that publishes before writing the columns', async () => {
    // Frequent noise widens the window between the early publish and the column writes.
    const r = await detect('publish-early', { capacityPerPartition: 1024, noiseProbability: 0.5 }, 10);
    assert.ok(r.detected > 0, `publish-early went undetected in ${r.trials} trials:\n${r.lines.join('\n')}`);
  });

  it('detects a claim made with a non-atomic read and write of the claim counter', async () => {
    const r = await detect('racy-claim', { capacityPerPartition: 65_536 }, 10);
    assert.ok(r.detected > 0, `racy-claim went undetected in ${r.trials} trials:\n${r.lines.join('\n')}`);
  });
});
