// Reads a server's data directory into memory, read-only: the journal segments, then the newest valid
// snapshot of every shard, then the journal replayed on top, through the registry's own snapshot target
// (the restore and replay the server runs at boot). Nothing in the directory is written, renamed,
// swept or locked, so it works while a server runs there.
// Why the journal is read first: a running server deletes a segment only after saving snapshots that
// cover it. Read in this order, every op missing from the segments read was already covered by a
// snapshot when we listed them, and the snapshots read afterwards are at least as new, so each shard
// comes out as an exact prefix of its history (read the other way round, a snapshot round between the
// two reads could leave a shard silently older than what was acknowledged before the read began).

import { stat } from 'node:fs/promises';
import { ErrorCode, EventStoreError, invalidArg } from '../errors.js';
import { fromRecord, type ShardOp } from '../server/streams/shard-ops.js';
import type { StreamRegistry } from '../server/streams/stream-registry.js';
import { BinarySnapshotSerializer } from '../snapshots/binary-serializer.js';
import { FileSystemSnapshotStore } from '../snapshots/file-system-snapshot-store.js';
import { type ParsedSegment, parseSegment } from '../snapshots/journal-format.js';
import { describeFsError } from './arguments.js';
import { offlineRegistry, toShardOps } from './shard-ops.js';

/** A data directory as read: its streams (in `registry`) and what the read found on the way. */
export interface DataDirView {
  /** Shards of the server that wrote the directory (0 when it holds no snapshot and no journal). */
  shards: number;
  registry: StreamRegistry;
  /** The snapshot restored for each shard that has one. */
  snapshots: { shard: number; version: number; file: string }[];
  journal: { segments: number; recordsReplayed: number; tornTailBytes: number };
  /**
   * Data that could not be restored: ops behind an unusable snapshot that nothing else holds, a journal
   * gap or an undecodable record (the shard's later ops are then not replayed). Empty when whole.
   */
  problems: string[];
  /** Snapshots passed over as unusable, as restore passes them over (what that loses is a problem). */
  notes: string[];
}

/** Times a shard's snapshots are listed again when the server prunes the one being loaded. */
const MAX_LISTINGS = 5;

/** Reads `dir` (see the file header). Throws an EventStoreError when it is not a readable directory. */
export async function readDataDir(dir: string): Promise<DataDirView> {
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error(dir), { code: 'ENOTDIR' });
  } catch (err) {
    throw invalidArg(`data directory ${dir}: ${describeFsError(err)}`);
  }
  return read(new FileSystemSnapshotStore(dir, { fsyncDirectory: false }));
}

/** A shard snapshot that decoded, with its ops. */
interface ShardState {
  file: string;
  partitions: number;
  version: number;
  ops: ShardOp[];
}

async function read(files: FileSystemSnapshotStore): Promise<DataDirView> {
  const serializer = new BinarySnapshotSerializer<unknown>();
  const problems: string[] = [];
  const notes: string[] = [];
  // 1. The journal segments.
  const segments = await files.listJournalSegments();
  const parsed: { segment: number; content: ParsedSegment }[] = [];
  let tornTailBytes = 0;
  for (const segment of segments) {
    let bytes: Uint8Array;
    try {
      bytes = await files.readJournalSegment(segment);
    } catch (err) {
      // Deleted since the listing: snapshots saved before that cover it (see the file header).
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    try {
      parsed.push({ segment, content: parseSegment(bytes) });
    } catch (err) {
      // The newest segment may be one that a running server has created and not yet headed.
      if (segment === segments[segments.length - 1]) tornTailBytes += bytes.length;
      else problems.push(`journal segment ${segment} is unreadable (${(err as Error).message}); skipped`);
    }
  }
  // 2. The newest snapshot of each shard that decodes, as restore picks them.
  /** Per shard, the newest version among its snapshots that could not be used. */
  const unusable = new Map<number, number>();
  const reject = (shard: number, version: number, file: string, why: string): void => {
    unusable.set(shard, Math.max(version, unusable.get(shard) ?? 0));
    notes.push(`snapshot ${shard}/${file} is not usable (${why})`);
  };
  const states = new Map<number, ShardState>();
  for (const shard of await files.listPartitions()) {
    const state = await newestSnapshot(files, serializer, shard, reject);
    if (state !== undefined) states.set(shard, state);
  }
  // 3. Restore, then replay.
  const shards = [...states.values()][0]?.partitions ?? parsed[0]?.content.partitions ?? 0;
  const registry = offlineRegistry(shards);
  const target = registry.snapshotTarget();
  const snapshots: DataDirView['snapshots'] = [];
  for (const [shard, state] of [...states].sort((a, b) => a[0] - b[0])) {
    try {
      if (state.partitions !== shards || shard >= shards) {
        throw corrupt(`it was taken with ${state.partitions} shards, the directory has ${shards}`);
      }
      target.check(shard, state.ops, state.version);
    } catch (err) {
      reject(shard, state.version, state.file, (err as Error).message);
      continue;
    }
    target.restore(shard, state.ops, state.version);
    snapshots.push({ shard, version: state.version, file: state.file });
  }
  const journal = { segments: parsed.length, recordsReplayed: 0, tornTailBytes };
  const broken = new Set<number>();
  for (const { segment, content } of parsed) {
    if (content.codecName !== serializer.codec.name || content.partitions !== shards) {
      problems.push(
        `journal segment ${segment} was written with codec '${content.codecName}' and ${content.partitions} shards; skipped`,
      );
      continue;
    }
    for (const r of content.records) {
      if (r.type !== 'append' || r.partition >= shards || broken.has(r.partition)) continue;
      let outcome: 'applied' | 'skipped' | 'gap';
      try {
        const op = fromRecord(serializer.codec.decode(r.event));
        outcome = target.replayAppend(r.partition, r.sequence, op);
      } catch (err) {
        problems.push(
          `journal segment ${segment}: op ${r.sequence} of shard ${r.partition} does not apply (${(err as Error).message}); the shard's later ops are not replayed`,
        );
        broken.add(r.partition);
        continue;
      }
      if (outcome === 'applied') journal.recordsReplayed++;
      else if (outcome === 'gap') {
        problems.push(
          `journal segment ${segment}: shard ${r.partition} jumps from op ${target.version(r.partition)} to op ${r.sequence}; the shard's later ops are not replayed`,
        );
        broken.add(r.partition);
      }
    }
    journal.tornTailBytes += content.droppedBytes;
  }
  // An unusable snapshot is harmless when an older one and the journal reach past it.
  for (const [shard, version] of unusable) {
    const reached = shard < shards ? target.version(shard) : 0;
    if (reached < version) {
      problems.push(
        `shard ${shard} is restored up to op ${reached}, but its snapshot at op ${version} is not usable: ops ${reached}..${version - 1} are lost`,
      );
    }
  }
  return { shards, registry, snapshots, journal, problems, notes };
}

/**
 * The newest snapshot of `shard` that decodes to shard ops, or `undefined`. A file the server prunes
 * between the listing and the load means newer ones exist: the shard is listed again.
 */
async function newestSnapshot(
  files: FileSystemSnapshotStore,
  serializer: BinarySnapshotSerializer<unknown>,
  shard: number,
  reject: (shard: number, version: number, file: string, why: string) => void,
): Promise<ShardState | undefined> {
  const tried = new Set<string>();
  for (let listing = 1; listing <= MAX_LISTINGS; listing++) {
    let pruned = false;
    for (const meta of await files.listSnapshots(shard)) {
      const file = FileSystemSnapshotStore.fileName(meta);
      if (tried.has(file)) continue;
      tried.add(file);
      let bytes: Uint8Array;
      try {
        bytes = await files.load(meta);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        pruned = true;
        break;
      }
      try {
        const state = await serializer.deserialize(bytes);
        if (state.partition !== shard || state.version !== meta.version) {
          throw corrupt(`it holds shard ${state.partition} version ${state.version}`);
        }
        const ops = toShardOps(state.events);
        if (ops === undefined) throw corrupt('it holds events that are not server shard ops');
        return { file, partitions: state.partitions, version: state.version, ops };
      } catch (err) {
        reject(shard, meta.version, file, (err as Error).message);
      }
    }
    if (!pruned) return undefined;
  }
  throw new EventStoreError(
    ErrorCode.INVALID_STATE,
    `the snapshots of shard ${shard} were pruned under ${MAX_LISTINGS} reads in a row; try again`,
  );
}

function corrupt(message: string): EventStoreError {
  return new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, message);
}
