// The history checker (test/helpers/history-checker.ts) on hand-made histories: a good one passes,
// and each check fires on a history broken in its own way.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AppendOp,
  checkHistory,
  type FinalStream,
  type HistoryOp,
  NO_VIOLATIONS,
  type ReadOp,
  violations,
} from '../helpers/history-checker.ts';

function ok(
  ids: string[],
  first: number,
  tInvoke: number,
  tComplete: number,
  extra: Partial<AppendOp> = {},
): AppendOp {
  return {
    client: 'c',
    op: 'append',
    stream: 's',
    ids,
    tInvoke,
    tComplete,
    outcome: { type: 'ok', firstOffset: first, lastOffset: first + ids.length - 1 },
    ...extra,
  };
}

function finalOf(ids: string[], firstOffset = 0): Map<string, FinalStream> {
  return new Map([['s', { firstOffset, events: ids.map((id, k) => ({ offset: firstOffset + k, id })) }]]);
}

function read(from: number, ids: string[], lastOffset: number, tInvoke: number): ReadOp {
  return {
    client: 'r',
    op: 'read',
    stream: 's',
    from,
    tInvoke,
    tComplete: tInvoke + 1,
    events: ids.map((id, k) => ({ offset: from + k, id })),
    lastOffset,
  };
}

const good: HistoryOp[] = [
  ok(['a'], 0, 0, 1),
  ok(['b', 'c'], 1, 2, 3),
  {
    client: 'c',
    op: 'append',
    stream: 's',
    ids: ['d'],
    tInvoke: 4,
    tComplete: 5,
    outcome: { type: 'unknown' },
  },
  ok(['d'], 3, 6, 7), // the retry, acknowledged as a duplicate with the original offset
  {
    client: 'c',
    op: 'append',
    stream: 's',
    ids: ['x'],
    tInvoke: 8,
    tComplete: 9,
    outcome: { type: 'definiteFail', status: 400 },
  },
  ok(['e'], 4, 10, 11, { expectedVersion: 3 }),
  { ...ok(['f'], 5, 10, 11), expectedVersion: 3, outcome: { type: 'conflict', current: 4 } },
  read(1, ['b', 'c', 'd'], 4, 12),
];
const goodFinal = finalOf(['a', 'b', 'c', 'd', 'e']);

function only(
  history: HistoryOp[],
  final: Map<string, FinalStream>,
  key: keyof ReturnType<typeof violations>,
) {
  const v = violations(checkHistory(history, final));
  const others = Object.entries(v).filter(([k, n]) => k !== key && n !== 0);
  assert.ok(v[key] > 0, `${key} did not fire: ${JSON.stringify(v)}`);
  return { count: v[key], others };
}

describe('history checker', () => {
  it('passes a correct history (retries, failures, conflicts, reads)', () => {
    const r = checkHistory(good, goodFinal);
    assert.deepEqual(violations(r), NO_VIOLATIONS);
    assert.equal(r.ackedAppends, 4);
    assert.equal(r.ackedEvents, 5);
  });

  it('C1: an acknowledged event missing from the final state', () => {
    assert.equal(only(good, finalOf(['a', 'b', 'c', 'd']), 'lostAcked').count, 1);
  });

  it('C1: an evicted offset is not a loss', () => {
    const r = checkHistory(
      good,
      new Map([
        [
          's',
          {
            firstOffset: 2,
            events: [
              { offset: 2, id: 'c' },
              { offset: 3, id: 'd' },
              { offset: 4, id: 'e' },
            ],
          },
        ],
      ]),
    );
    assert.equal(r.lostAcked, 0);
    assert.equal(r.gaps, 0);
    assert.equal(r.evictedStreams, 1);
  });

  it('C2: an event stored twice', () => {
    const final = finalOf(['a', 'b', 'c', 'd', 'e', 'd']);
    assert.equal(violations(checkHistory(good, final)).duplicated, 1);
  });

  it('C3: an event that no ok or unknown append carried (and one from a failed append)', () => {
    assert.equal(only(good, finalOf(['a', 'b', 'c', 'd', 'e', 'zz']), 'phantom').count, 1);
    assert.equal(only(good, finalOf(['a', 'b', 'c', 'd', 'e', 'x']), 'phantom').count, 1);
  });

  it('C4: a gap in the offsets', () => {
    const final = finalOf(['a', 'b', 'c', 'd', 'e']);
    final.get('s')!.events[4]!.offset = 5;
    const v = violations(checkHistory(good, final));
    assert.equal(v.gaps, 1);
  });

  it('C5: an ack whose offset is not the stored position', () => {
    assert.equal(only(good, finalOf(['a', 'c', 'b', 'd', 'e']), 'ackMismatch').count, 2);
  });

  it('C6: two winners for one expected version, and a conflict naming the expected version', () => {
    const h = [...good.slice(0, 6), ok(['f'], 5, 10, 11, { expectedVersion: 3 })];
    const r = checkHistory(h, finalOf(['a', 'b', 'c', 'd', 'e', 'f']));
    assert.ok(r.versionWinnersOver1 >= 1);
    const conflict: HistoryOp = {
      ...ok(['g'], 0, 12, 13),
      expectedVersion: 4,
      outcome: { type: 'conflict', current: 4 },
    };
    assert.equal(checkHistory([...good, conflict], goodFinal).versionWinnersOver1, 1);
  });

  it('C7: an append completed before another started has the later offset', () => {
    const h = [ok(['a'], 1, 0, 1), ok(['b'], 0, 2, 3)];
    const v = violations(checkHistory(h, finalOf(['b', 'a'])));
    assert.equal(v.realTimeViolations, 1);
    // Overlapping appends may be ordered either way.
    assert.equal(
      checkHistory([ok(['a'], 1, 0, 3), ok(['b'], 0, 2, 4)], finalOf(['b', 'a'])).realTimeViolations,
      0,
    );
    // A retry acknowledged with its original offset started with its first attempt.
    const retry: HistoryOp[] = [
      {
        client: 'c',
        op: 'append',
        stream: 's',
        ids: ['a'],
        tInvoke: 0,
        tComplete: 1,
        outcome: { type: 'unknown' },
      },
      ok(['b'], 1, 2, 3),
      ok(['a'], 0, 4, 5),
    ];
    assert.equal(checkHistory(retry, finalOf(['a', 'b'])).realTimeViolations, 0);
  });

  it('C8: a read that is not a slice of the final state, and a read missing a completed append', () => {
    assert.equal(only([...good.slice(0, 7), read(1, ['c', 'b'], 4, 12)], goodFinal, 'staleReads').count, 1);
    assert.equal(only([...good.slice(0, 7), read(0, ['a'], 0, 12)], goodFinal, 'staleReads').count, 1);
  });
});
