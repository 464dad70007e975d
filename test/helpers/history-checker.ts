// A linear-time history checker for the HTTP service (reference/reliability.md §1.7). The server
// reveals the linearization order (every acknowledged append returns its offsets), so no search is
// needed: each check is a pass over the history, the final state, or both (plus a sort for C7/C8).
//
// Clients record one entry per attempt (an op); the final state is a full read of every stream after
// quiescence. Event ids are unique across the whole run, so an id identifies one logical append.

/** The outcome of one attempt, as the client saw it. */
export type Outcome =
  | { type: 'ok'; firstOffset: number; lastOffset: number }
  | { type: 'conflict'; current: number }
  | { type: 'definiteFail'; status: number }
  | { type: 'unknown' };

export interface AppendOp {
  client: string;
  op: 'append';
  stream: string;
  /** The ids of the events of the request, in body order. */
  ids: string[];
  expectedVersion?: number;
  /** Epoch milliseconds (fractional), one clock for every process of the run. */
  tInvoke: number;
  tComplete: number;
  outcome: Outcome;
}

export interface ReadOp {
  client: string;
  op: 'read';
  stream: string;
  tInvoke: number;
  tComplete: number;
  /** The `from` asked for. */
  from: number;
  /** The events returned, in order. */
  events: { offset: number; id: string }[];
  /** The stream's last acknowledged offset reported by the read (−1 if none). */
  lastOffset: number;
}

export type HistoryOp = AppendOp | ReadOp;

/** A full read of one stream after quiescence: the events held, from the oldest. */
export interface FinalStream {
  /** The oldest offset held (greater than 0 once capacity evicted events). */
  firstOffset: number;
  events: { offset: number; id: string }[];
}

export interface CheckResult {
  /** C1: ids of acknowledged appends missing from the final state (evicted offsets excepted). */
  lostAcked: number;
  /** C2: extra copies of an id in the final state. */
  duplicated: number;
  /** C3: ids in the final state that no ok/unknown append carried (or only failed ones did). */
  phantom: number;
  /** C4: offsets missing or out of order inside a stream's held range. */
  gaps: number;
  /** C5: acknowledged offsets that differ from the event's position in the final state. */
  ackMismatch: number;
  /** C6: extra winners per (stream, expected version), wrong first offsets, conflicts naming v. */
  versionWinnersOver1: number;
  /** C7: an append completed before another was invoked yet got a later offset. */
  realTimeViolations: number;
  /** C8: reads that are not a slice of the final state, or miss an append completed before them. */
  staleReads: number;
  /** Logical appends acknowledged (distinct first ids), events acknowledged. */
  ackedAppends: number;
  ackedEvents: number;
  /** Events in the final state, and streams whose oldest events were evicted. */
  storedEvents: number;
  evictedStreams: number;
  /** The first few violations, for the failure message. */
  samples: string[];
}

/** The violation counters of a history that breaks no rule: what the tests expect of violations(). */
export const NO_VIOLATIONS = {
  lostAcked: 0,
  duplicated: 0,
  phantom: 0,
  gaps: 0,
  ackMismatch: 0,
  versionWinnersOver1: 0,
  realTimeViolations: 0,
  staleReads: 0,
};
export type Violations = typeof NO_VIOLATIONS;

export interface CheckOptions {
  /** Clocks of different processes may disagree by this much (C7/C8 need a strict separation). */
  clockSkewMs?: number;
}

const MAX_SAMPLES = 20;

export function checkHistory(
  history: readonly HistoryOp[],
  final: ReadonlyMap<string, FinalStream>,
  options: CheckOptions = {},
): CheckResult {
  const skew = options.clockSkewMs ?? 0;
  const r: CheckResult = {
    ...NO_VIOLATIONS,
    ackedAppends: 0,
    ackedEvents: 0,
    storedEvents: 0,
    evictedStreams: 0,
    samples: [],
  };
  const note = (s: string): void => {
    if (r.samples.length < MAX_SAMPLES) r.samples.push(s);
  };

  // Final state: id → (stream, offset); C2 and C4 in one pass.
  const where = new Map<string, { stream: string; offset: number }>();
  const atOffset = new Map<string, Map<number, string>>();
  for (const [stream, fs] of final) {
    if (fs.firstOffset > 0) r.evictedStreams++;
    const byOffset = new Map<number, string>();
    atOffset.set(stream, byOffset);
    let expected = fs.firstOffset;
    for (const e of fs.events) {
      r.storedEvents++;
      if (e.offset !== expected) {
        r.gaps++;
        note(`C4 ${stream}: offset ${e.offset} where ${expected} was expected`);
      }
      expected = e.offset + 1;
      byOffset.set(e.offset, e.id);
      if (where.has(e.id)) {
        r.duplicated++;
        const w = where.get(e.id)!;
        note(`C2 ${e.id} at ${w.stream}@${w.offset} and ${stream}@${e.offset}`);
      } else {
        where.set(e.id, { stream, offset: e.offset });
      }
    }
  }
  const held = (stream: string, offset: number): boolean => offset >= (final.get(stream)?.firstOffset ?? 0);

  // Per id: which outcomes carried it (C3), and the earliest invocation of any attempt (C7: a retry
  // acknowledged with the original offsets started when the first attempt did).
  const carried = new Set<string>();
  const firstInvoke = new Map<string, number>();
  for (const op of history) {
    if (op.op !== 'append') continue;
    const key = op.ids[0];
    if (key !== undefined) {
      const t = firstInvoke.get(key);
      if (t === undefined || op.tInvoke < t) firstInvoke.set(key, op.tInvoke);
    }
    if (op.outcome.type === 'ok' || op.outcome.type === 'unknown') for (const id of op.ids) carried.add(id);
  }

  // C1, C5, C6 over the acknowledged appends; the logical appends for C7/C8.
  interface Acked {
    stream: string;
    key: string;
    firstOffset: number;
    lastOffset: number;
    tInvoke: number;
    tComplete: number;
  }
  const acked = new Map<string, Acked>();
  const winners = new Map<string, Set<number>>();
  for (const op of history) {
    if (op.op !== 'append') continue;
    const o = op.outcome;
    if (o.type === 'conflict' && op.expectedVersion !== undefined && o.current === op.expectedVersion) {
      r.versionWinnersOver1++;
      note(`C6 ${op.stream}: conflict reports current ${o.current} = the expected version`);
    }
    if (o.type !== 'ok') continue;
    if (o.lastOffset - o.firstOffset + 1 !== op.ids.length) {
      r.ackMismatch++;
      note(`C5 ${op.stream}: ack ${o.firstOffset}..${o.lastOffset} for ${op.ids.length} events`);
    }
    for (const [k, id] of op.ids.entries()) {
      const offset = o.firstOffset + k;
      const w = where.get(id);
      if (w === undefined) {
        if (held(op.stream, offset)) {
          r.lostAcked++;
          note(`C1 ${id} acknowledged at ${op.stream}@${offset}, not stored`);
        }
      } else if (w.stream !== op.stream || w.offset !== offset) {
        r.ackMismatch++;
        note(`C5 ${id} acknowledged at ${op.stream}@${offset}, stored at ${w.stream}@${w.offset}`);
      }
    }
    if (op.expectedVersion !== undefined) {
      const vk = `${op.stream}\u0000${op.expectedVersion}`;
      let set = winners.get(vk);
      if (set === undefined) winners.set(vk, (set = new Set()));
      set.add(o.firstOffset);
      if (o.firstOffset !== op.expectedVersion + 1) {
        r.versionWinnersOver1++;
        note(`C6 ${op.stream}: expected version ${op.expectedVersion} acknowledged at ${o.firstOffset}`);
      }
    }
    const key = op.ids[0]!;
    const prev = acked.get(key);
    if (prev === undefined) {
      acked.set(key, {
        stream: op.stream,
        key,
        firstOffset: o.firstOffset,
        lastOffset: o.lastOffset,
        tInvoke: firstInvoke.get(key) ?? op.tInvoke,
        tComplete: op.tComplete,
      });
      r.ackedEvents += op.ids.length;
    } else {
      if (prev.firstOffset !== o.firstOffset) {
        r.ackMismatch++;
        note(`C5 ${key}: acknowledged at ${prev.firstOffset} and at ${o.firstOffset}`);
      }
      prev.tComplete = Math.min(prev.tComplete, op.tComplete);
    }
  }
  r.ackedAppends = acked.size;
  for (const [vk, set] of winners) {
    if (set.size > 1) {
      r.versionWinnersOver1 += set.size - 1;
      note(`C6 ${vk.replace('\u0000', ' v=')}: ${set.size} winners`);
    }
  }

  // C3: every stored id was carried by an ok or unknown append.
  for (const [id, w] of where) {
    if (!carried.has(id)) {
      r.phantom++;
      note(`C3 ${id} stored at ${w.stream}@${w.offset} but never sent by an ok/unknown append`);
    }
  }

  // C7 and the freshness half of C8, per stream: sweep the invocations in time order while the
  // completions before them raise the highest offset that must already be visible.
  const perStream = new Map<string, { acks: Acked[]; reads: ReadOp[] }>();
  const bucket = (s: string) => {
    let b = perStream.get(s);
    if (b === undefined) perStream.set(s, (b = { acks: [], reads: [] }));
    return b;
  };
  for (const a of acked.values()) bucket(a.stream).acks.push(a);
  for (const op of history) if (op.op === 'read') bucket(op.stream).reads.push(op);
  for (const [stream, { acks, reads }] of perStream) {
    const byComplete = [...acks].sort((a, b) => a.tComplete - b.tComplete);
    const invocations: { t: number; ack?: Acked; read?: ReadOp }[] = [
      ...acks.map((ack) => ({ t: ack.tInvoke, ack })),
      ...reads.map((read) => ({ t: read.tInvoke, read })),
    ].sort((a, b) => a.t - b.t);
    let i = 0;
    let maxDone = -1;
    let maxDoneKey = '';
    for (const inv of invocations) {
      while (i < byComplete.length && byComplete[i]!.tComplete + skew < inv.t) {
        const a = byComplete[i++]!;
        if (a.lastOffset > maxDone) {
          maxDone = a.lastOffset;
          maxDoneKey = a.key;
        }
      }
      if (inv.ack !== undefined && inv.ack.firstOffset <= maxDone) {
        r.realTimeViolations++;
        note(
          `C7 ${stream}: ${inv.ack.key}@${inv.ack.firstOffset} invoked after ${maxDoneKey}@${maxDone} completed`,
        );
      }
      if (inv.read !== undefined && inv.read.lastOffset < maxDone && held(stream, maxDone)) {
        r.staleReads++;
        note(
          `C8 ${stream}: read reports last ${inv.read.lastOffset} after ${maxDoneKey}@${maxDone} completed`,
        );
      }
    }
  }

  // C8: every read is a contiguous slice of the final state, starting at its `from`.
  for (const op of history) {
    if (op.op !== 'read') continue;
    const byOffset = atOffset.get(op.stream) ?? new Map<number, string>();
    let expected = op.events[0]?.offset ?? op.from;
    let bad =
      op.events.length > 0 &&
      op.events[0]!.offset !== op.from &&
      op.from >= (final.get(op.stream)?.firstOffset ?? 0);
    for (const e of op.events) {
      if (e.offset !== expected) bad = true;
      expected = e.offset + 1;
      if (held(op.stream, e.offset) && byOffset.get(e.offset) !== e.id) bad = true;
      if (e.offset > op.lastOffset) bad = true;
    }
    if (bad) {
      r.staleReads++;
      note(`C8 ${op.stream}: read from ${op.from} by ${op.client} is not a slice of the final state`);
    }
  }
  return r;
}

/** The violation counters only (what the tests assert). */
export function violations(r: CheckResult): Violations {
  const out = { ...NO_VIOLATIONS };
  for (const k of Object.keys(out) as (keyof Violations)[]) out[k] = r[k];
  return out;
}
