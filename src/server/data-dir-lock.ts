// One server per data directory: `<dataDir>/server.lock` holds the owner's pid while it runs. Two
// writers would corrupt the journal, so a live owner is refused; a lock left by a process that is gone
// (a crash, kill -9) is taken over.

import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, EventStoreError } from '../errors.js';

/** Lock files held by servers of this process. */
const heldLocks = new Set<string>();

/**
 * Takes `<dataDir>/server.lock` (this process's pid). A lock whose process is gone (a crash, kill -9)
 * is taken over; a live one means another server owns the directory, and two writers would corrupt it.
 */
export async function lockDataDir(dataDir: string): Promise<string> {
  const path = join(dataDir, 'server.lock');
  if (heldLocks.has(path)) {
    throw new EventStoreError(
      ErrorCode.INVALID_STATE,
      `the data directory ${dataDir} is in use by another server of this process`,
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      heldLocks.add(path);
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    let alive = false;
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = (err as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) {
      throw new EventStoreError(
        ErrorCode.INVALID_STATE,
        `the data directory ${dataDir} is in use by process ${pid} (${path}); stop it first`,
      );
    }
    await unlink(path).catch(() => {});
  }
  throw new EventStoreError(ErrorCode.INVALID_STATE, `could not lock the data directory ${dataDir}`);
}

/** Releases a lock taken by {@link lockDataDir}. */
export async function unlockDataDir(path: string): Promise<void> {
  await unlink(path).catch(() => {});
  heldLocks.delete(path);
}
