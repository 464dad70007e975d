// Temporary directories for tests: made under os.tmpdir() with a name prefix, remembered, and removed
// with everything in them when the test process exits, whatever state the tests left them in. Not an
// `after` hook: this module is imported first, so its hook would run before the test file's own
// `after` hooks, while the servers those hooks stop may still write into the directories.

import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

process.on('exit', () => {
  // Synchronous: nothing asynchronous runs any more once 'exit' is emitted.
  for (const dir of made) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

/** A new empty directory `<os.tmpdir()>/<prefix>XXXXXX`, removed when the test process exits. */
export async function tempDir(prefix = 'lfes-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes a directory made by `tempDir` now (e.g. one per iteration of a long loop). */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  made.delete(dir);
}
