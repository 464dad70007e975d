// SharedRounds, the read barrier's round sharing: every caller is settled by a round that started at
// or after its call, however calls and rounds interleave (a seeded random schedule, rounds ended by
// the test), and concurrent callers share rounds.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedRounds } from '../../src/server/cluster/shared-rounds.ts';
import { mulberry32 } from '../helpers/random.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SharedRounds', () => {
  it('settles each caller only with a round that started after its call, over random interleavings', async () => {
    const seed = Number(process.env.LFES_ROUNDS_SEED ?? Date.now() % 1_000_000);
    const random = mulberry32(seed);
    for (let trial = 0; trial < 200; trial++) {
      const started: number[] = []; // round index -> event time it started
      const running: (() => void)[] = [];
      let clock = 0;
      let ended = 0;
      const rounds = new SharedRounds(
        () =>
          new Promise<void>((resolve) => {
            started.push(clock++);
            running.push(resolve);
          }),
      );
      const callers: { calledAt: number; settledBy?: number }[] = [];
      for (let step = 0; step < 40; step++) {
        if (random() < 0.5 || running.length === 0) {
          const caller: { calledAt: number; settledBy?: number } = { calledAt: clock++ };
          callers.push(caller);
          void rounds.run().then(() => {
            // The round that settled it is the last one to have ended.
            caller.settledBy = ended;
          });
        } else {
          running.shift()!();
          ended++;
        }
        await tick();
      }
      while (running.length > 0) {
        running.shift()!();
        ended++;
        await tick();
      }
      for (const c of callers) {
        assert.ok(c.settledBy !== undefined, `seed ${seed} trial ${trial}: a caller was never settled`);
        const round = c.settledBy - 1;
        assert.ok(
          started[round]! >= c.calledAt,
          `seed ${seed} trial ${trial}: a caller at ${c.calledAt} was settled by round ${round}, which started at ${started[round]}`,
        );
      }
      assert.ok(started.length <= callers.length, 'never more rounds than callers');
    }
  });

  it('runs one round for every caller that comes while another runs', async () => {
    let rounds = 0;
    const ends: (() => void)[] = [];
    const shared = new SharedRounds(
      () =>
        new Promise<void>((resolve) => {
          rounds++;
          ends.push(resolve);
        }),
    );
    const first = shared.run();
    const waiting = Array.from({ length: 50 }, () => shared.run());
    assert.equal(rounds, 1);
    ends.shift()!();
    await first;
    await tick();
    assert.equal(rounds, 2, 'the 50 callers share the second round');
    ends.shift()!();
    await Promise.all(waiting);
    await tick();
    assert.equal(rounds, 2);
    assert.equal(ends.length, 0);
  });

  it('settles callers when a round fails', async () => {
    const shared = new SharedRounds(() => Promise.reject(new Error('the log did not answer')));
    await Promise.all([shared.run(), shared.run(), shared.run()]);
  });
});
