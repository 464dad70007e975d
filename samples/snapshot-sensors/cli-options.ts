// Command-line option checks shared by the two sensor samples: a bad value stops the sample with a
// message that names the option, what it takes and what it received (exit status 2).

import type { JournalSyncPolicy } from 'lockfree-eventstore';

export class UsageError extends Error {}

/** An integer option (flag text or env value), `fallback` when absent. */
export function integerOption(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^[0-9]+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${name} must be an integer >= ${min}, received ${JSON.stringify(text)}`);
  }
  return Number(text);
}

export function fsyncOption(text: string | undefined): JournalSyncPolicy {
  const policy = text ?? 'everysec';
  if (policy !== 'always' && policy !== 'everysec' && policy !== 'no') {
    throw new UsageError(`--fsync must be always, everysec or no, received ${JSON.stringify(policy)}`);
  }
  return policy;
}

/** Runs a sample's main: its result is the exit status; a failure (a corrupt data dir…) prints one line. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`[ERROR] ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
