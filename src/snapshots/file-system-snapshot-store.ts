// FileSystemSnapshotStore: snapshot and journal files on a real filesystem.
//   <root>/<partition>/<partition>_<version>_<takenAtMs>.snap     snapshots
//   <root>/<partition>/<name>.snap.<pid>.<n>.<rand>.tmp            a save in progress (swept at boot)
//   <root>/<partition>/<name>.snap.corrupt-<ms>                    quarantined by restore
//   <root>/journal/<segment>.journal                               delta journal segments
// A save writes a new temp file (looping over short writes), fsyncs it, checks its size and checksum,
// links it to the final name (which fails rather than overwrite), removes the temp name, and fsyncs the
// directory. A failed attempt never fsyncs the same file again: the next attempt writes a new temp file
// (an attempt that fails after the link removes the final name again, so its retry does not collide).
// One process owns a root at a time.

import { randomBytes } from 'node:crypto';
import { type FileHandle, link, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, ErrorCode, EventStoreError, ensureBoolean, invalidArg } from '../errors.js';
import type { JournalSegmentFile, SnapshotMetadata, SnapshotStore } from './types.js';

const SNAPSHOT_NAME = /^(\d+)_(\d+)_(\d+)\.snap$/;
const SEGMENT_NAME = /^(\d+)\.journal$/;
const PARTITION_DIR = /^\d+$/;

/** Options of {@link FileSystemSnapshotStore}. */
export interface FileSystemSnapshotStoreOptions {
  /** fsync the directory after each rename or delete, so the new name survives a power loss. @default true */
  fsyncDirectory?: boolean;
}

/** Writes all of `data` at `position`, looping over short writes (a full disk returns them silently). */
async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
    if (bytesWritten <= 0) {
      throw Object.assign(new Error(`short write: 0 of ${data.length - off} bytes written (disk full?)`), {
        code: 'ENOSPC',
      });
    }
    off += bytesWritten;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

let tempCounter = 0;

class FileJournalSegment implements JournalSegmentFile {
  readonly segment: number;
  readonly #fh: FileHandle;
  #size = 0;

  constructor(segment: number, fh: FileHandle) {
    this.segment = segment;
    this.#fh = fh;
  }

  async append(data: Uint8Array): Promise<void> {
    await writeAll(this.#fh, data, this.#size);
    this.#size += data.length;
  }

  sync(): Promise<void> {
    return this.#fh.sync();
  }

  close(): Promise<void> {
    return this.#fh.close();
  }
}

/** Snapshot and journal files under one root directory. */
export class FileSystemSnapshotStore implements SnapshotStore {
  readonly root: string;
  readonly fsyncDirectory: boolean;

  constructor(root: string, options: FileSystemSnapshotStoreOptions = {}) {
    if (typeof root !== 'string' || root.length === 0) {
      throw invalidArg(`\`root\` must be a non-empty directory path, received ${describe(root)}`);
    }
    this.root = root;
    this.fsyncDirectory = ensureBoolean('fsyncDirectory', options.fsyncDirectory, true);
  }

  /** File name of a snapshot. */
  static fileName(meta: SnapshotMetadata): string {
    return `${meta.partition}_${meta.version}_${Math.trunc(meta.takenAtMs)}.snap`;
  }

  #dir(partition: number): string {
    return join(this.root, String(partition));
  }

  #path(meta: SnapshotMetadata): string {
    return join(this.#dir(meta.partition), FileSystemSnapshotStore.fileName(meta));
  }

  #journalDir(): string {
    return join(this.root, 'journal');
  }

  async save(meta: SnapshotMetadata, data: Uint8Array): Promise<{ bytes: number }> {
    const dir = this.#dir(meta.partition);
    await mkdir(dir, { recursive: true });
    const final = this.#path(meta);
    const tmp = `${final}.${process.pid}.${++tempCounter}.${randomBytes(4).toString('hex')}.tmp`;
    let fh: FileHandle | undefined = await open(tmp, 'wx');
    let linked = false;
    try {
      await writeAll(fh, data, 0);
      await fh.sync();
      const { size } = await fh.stat();
      if (size !== data.length)
        throw new Error(`snapshot temp file is ${size} bytes, expected ${data.length}`);
      await fh.close();
      fh = undefined;
      const written = await readFile(tmp);
      if (crc32(written) !== crc32(data))
        throw new Error('snapshot temp file does not read back with the same checksum');
      try {
        await link(tmp, final); // fails with EEXIST instead of replacing an existing snapshot
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new EventStoreError(
            ErrorCode.SNAPSHOT_EXISTS,
            `snapshot ${final} already exists; not overwriting it`,
          );
        }
        throw err;
      }
      linked = true;
      // The snapshot is complete under its final name; a temp name that cannot be removed is only a
      // second link to it, removed by the boot sweep.
      await unlink(tmp).catch(() => {});
      if (this.fsyncDirectory) await fsyncDir(dir);
      return { bytes: data.length };
    } catch (err) {
      if (fh !== undefined) await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      // A step after the link failed (the directory fsync): take the final name back, so the retry
      // publishes a new temp file under it instead of colliding with this attempt's file.
      if (linked) await unlink(final).catch(() => {});
      throw err;
    }
  }

  async listPartitions(): Promise<number[]> {
    const names = await listDir(this.root);
    return names
      .filter((n) => PARTITION_DIR.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  async listSnapshots(partition: number): Promise<SnapshotMetadata[]> {
    const out: SnapshotMetadata[] = [];
    for (const name of await listDir(this.#dir(partition))) {
      const m = SNAPSHOT_NAME.exec(name);
      if (m === null || Number(m[1]) !== partition) continue;
      out.push({ partition, version: Number(m[2]), takenAtMs: Number(m[3]) });
    }
    return out.sort((a, b) => b.version - a.version || b.takenAtMs - a.takenAtMs);
  }

  load(meta: SnapshotMetadata): Promise<Uint8Array> {
    return readFile(this.#path(meta));
  }

  async quarantine(meta: SnapshotMetadata): Promise<void> {
    const path = this.#path(meta);
    await rename(path, `${path}.corrupt-${Date.now()}`);
    if (this.fsyncDirectory) await fsyncDir(this.#dir(meta.partition));
  }

  async prune(
    partition: number,
    keep: number,
    isValid: (meta: SnapshotMetadata) => Promise<boolean>,
  ): Promise<{ kept: number; deleted: number; quarantined: number }> {
    let kept = 0;
    let deleted = 0;
    let quarantined = 0;
    for (const meta of await this.listSnapshots(partition)) {
      if (kept >= keep) {
        await unlink(this.#path(meta)).catch(() => {});
        deleted++;
      } else if (await isValid(meta)) {
        kept++;
      } else {
        await this.quarantine(meta);
        quarantined++;
      }
    }
    if (deleted > 0 && this.fsyncDirectory) await fsyncDir(this.#dir(partition));
    return { kept, deleted, quarantined };
  }

  async sweepTemporaryFiles(): Promise<number> {
    let removed = 0;
    const dirs = [...(await this.listPartitions()).map((p) => this.#dir(p)), this.#journalDir()];
    for (const dir of dirs) {
      for (const name of await listDir(dir)) {
        if (!name.endsWith('.tmp')) continue;
        await unlink(join(dir, name));
        removed++;
      }
    }
    return removed;
  }

  async listJournalSegments(): Promise<number[]> {
    const out: number[] = [];
    for (const name of await listDir(this.#journalDir())) {
      const m = SEGMENT_NAME.exec(name);
      if (m !== null) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  #segmentPath(segment: number): string {
    return join(this.#journalDir(), `${String(segment).padStart(12, '0')}.journal`);
  }

  readJournalSegment(segment: number): Promise<Uint8Array> {
    return readFile(this.#segmentPath(segment));
  }

  async createJournalSegment(segment: number, syncDirectory = true): Promise<JournalSegmentFile> {
    const dir = this.#journalDir();
    await mkdir(dir, { recursive: true });
    const fh = await open(this.#segmentPath(segment), 'wx');
    if (this.fsyncDirectory && syncDirectory) {
      try {
        await fsyncDir(dir);
      } catch (err) {
        await fh.close().catch(() => {});
        throw err;
      }
    }
    return new FileJournalSegment(segment, fh);
  }

  async deleteJournalSegment(segment: number): Promise<void> {
    await unlink(this.#segmentPath(segment));
    if (this.fsyncDirectory) await fsyncDir(this.#journalDir());
  }
}
