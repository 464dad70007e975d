// EventStore's side of the snapshot seam: the SnapshotTarget its Snapshotter captures, restores and
// replays through, over the store's partitions. Built once, by `configureSnapshots`; every call runs on
// the store's thread, between appends, like any call of the store.

import { ErrorCode, EventStoreError } from '../errors.js';
import type { JournalHook, SnapshotTarget } from '../snapshots/snapshotter.js';
import type { Partition } from './partition.js';

/** What the target needs of the store besides its partitions (functions, called detached). */
export interface SnapshotSource<T> {
  /** The event's time as the store keeps it (0 when it does not track time). */
  readonly timeOf: (event: T) => number;
  /** The event's `window.value` (0 without the `window` option). */
  readonly windowValueOf: (event: T) => number;
  /** Events appended since creation (`statistics.totalAppended`). */
  totalAppended(): number;
  /** Installs the journal's hook on the store: from then on every change is recorded. */
  setJournalHook(hook: JournalHook<T> | undefined): void;
}

/** The view of an EventStore's partitions that its snapshotter works through. */
export function snapshotTarget<T>(
  parts: readonly Partition<T>[],
  store: SnapshotSource<T>,
): SnapshotTarget<T> {
  const { timeOf, windowValueOf } = store;
  const changedAt = (tails: readonly number[], apply: (part: Partition<T>) => boolean): number[] => {
    const changed: number[] = [];
    parts.forEach((part, p) => {
      if (tails[p] === part.tail && apply(part)) changed.push(p);
    });
    return changed;
  };
  return {
    partitions: parts.length,
    version: (p) => parts[p]!.tail,
    mutations: (p) => parts[p]!.tail + parts[p]!.resets,
    totalAppended: () => store.totalAppended(),
    isPristine: () =>
      store.totalAppended() === 0 && parts.every((part) => part.tail === 0 && part.resets === 0),
    capture: (p) => {
      const part = parts[p]!;
      const events = new Array<T>(part.size);
      for (let pos = 0; pos < events.length; pos++) events[pos] = part.items[part.slotAt(pos)] as T;
      return { version: part.tail, events };
    },
    check: (p, events, version) => {
      if (events.length > version) {
        throw new EventStoreError(
          ErrorCode.SNAPSHOT_CORRUPT,
          `invalid snapshot of partition ${p}: it holds ${events.length} events, more than its version ${version} appended`,
        );
      }
    },
    restore: (p, events, version) => {
      const part = parts[p]!;
      const kept = events.length > part.capacity ? events.slice(events.length - part.capacity) : events;
      part.resetTo(version - kept.length);
      for (const e of kept) part.push(e, timeOf(e), windowValueOf(e));
    },
    replayAppend: (p, sequence, event) => {
      const part = parts[p]!;
      if (sequence < part.tail) return 'skipped';
      if (sequence > part.tail) return 'gap';
      const t = timeOf(event);
      const v = windowValueOf(event);
      if (part.size === part.capacity) part.evictOldest();
      part.push(event, t, v);
      return 'applied';
    },
    replayClear: (tails) =>
      changedAt(tails, (part) => {
        const had = part.size > 0;
        part.clear();
        return had;
      }),
    replayPurge: (olderThan, tails) => changedAt(tails, (part) => part.purgeOlderThan(olderThan, timeOf) > 0),
    setJournalHook: (hook) => store.setJournalHook(hook),
  };
}
