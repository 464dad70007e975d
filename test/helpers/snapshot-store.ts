// A SnapshotStore that forwards to a real one, with some methods replaced: the seam for injecting
// failures into one operation while every other operation hits the real filesystem.

import type { SnapshotStore } from '../../src/index.ts';

export function wrapSnapshotStore(inner: SnapshotStore, overrides: Partial<SnapshotStore>): SnapshotStore {
  const methods = [
    'save',
    'listPartitions',
    'listSnapshots',
    'load',
    'quarantine',
    'prune',
    'sweepTemporaryFiles',
    'listJournalSegments',
    'readJournalSegment',
    'createJournalSegment',
    'deleteJournalSegment',
  ] as const;
  const out: Record<string, unknown> = {};
  for (const m of methods) out[m] = overrides[m] ?? (inner[m] as (...args: unknown[]) => unknown).bind(inner);
  return out as unknown as SnapshotStore;
}

/**
 * A store whose journal segments call `sync(fsync)` in place of their fsync (`fsync` is the real one):
 * the seam for counting, delaying or failing the journal's fsyncs.
 */
export function wrapJournalSync(
  inner: SnapshotStore,
  sync: (fsync: () => Promise<void>) => Promise<void>,
): SnapshotStore {
  return wrapSnapshotStore(inner, {
    createJournalSegment: async (segment, syncDirectory) => {
      const file = await inner.createJournalSegment(segment, syncDirectory);
      return {
        segment,
        append: (d) => file.append(d),
        sync: () => sync(() => file.sync()),
        close: () => file.close(),
      };
    },
  });
}
