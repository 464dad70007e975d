// Validation of SnapshotOptions when snapshots are configured: defaults filled in, every bad value an
// ES_ERR_INVALID_ARG naming the option, `0` meaning "this trigger is off".

import {
  describe,
  ensureBoolean,
  ensureInteger,
  ensureOneOf,
  ensurePositiveNumber,
  invalidArg,
} from '../errors.js';
import type { JournalSyncPolicy, SnapshotLogger, SnapshotOptions } from './types.js';

export interface ResolvedSnapshotOptions {
  enabled: boolean;
  intervalMs: number;
  minEventsBetweenSnapshots: number;
  maxConcurrentSnapshotJobs: number;
  snapshotsToKeep: number;
  maxSaveAttempts: number;
  backoffBaseDelayMs: number;
  backoffFactor: number;
  compactBeforeSnapshot: boolean;
  enableLocalTracing: boolean;
  finalSnapshotOnShutdown: boolean;
  allowEmptyRestore: boolean;
  journal: { enabled: boolean; syncPolicy: JournalSyncPolicy };
  logger: SnapshotLogger;
}

const KNOWN = new Set([
  'enabled',
  'intervalMs',
  'minEventsBetweenSnapshots',
  'maxConcurrentSnapshotJobs',
  'snapshotsToKeep',
  'maxSaveAttempts',
  'backoffBaseDelayMs',
  'backoffFactor',
  'compactBeforeSnapshot',
  'enableLocalTracing',
  'finalSnapshotOnShutdown',
  'allowEmptyRestore',
  'journal',
  'logger',
]);

/** Warnings and errors to the console; info is dropped. */
export const consoleLogger: SnapshotLogger = {
  info() {},
  warn(obj, msg) {
    console.warn(`[lockfree-eventstore] ${msg ?? ''}`, obj);
  },
  error(obj, msg) {
    console.error(`[lockfree-eventstore] ${msg ?? ''}`, obj);
  },
};

function int(name: string, value: unknown, fallback: number, min: number): number {
  return value === undefined ? fallback : ensureInteger(name, value, min);
}

export function resolveSnapshotOptions(options: SnapshotOptions): ResolvedSnapshotOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArg(`snapshot \`options\` must be an object, received ${describe(options)}`);
  }
  for (const key of Object.keys(options))
    if (!KNOWN.has(key)) throw invalidArg(`unknown snapshot option \`${key}\``);
  const o = options;
  const enabled = ensureBoolean('enabled', o.enabled, true);
  const intervalMs = int('intervalMs', o.intervalMs, 120_000, 0);
  const minEventsBetweenSnapshots = int('minEventsBetweenSnapshots', o.minEventsBetweenSnapshots, 50_000, 0);
  if (enabled && intervalMs === 0 && minEventsBetweenSnapshots === 0) {
    throw invalidArg(
      '`intervalMs` and `minEventsBetweenSnapshots` are both 0, so nothing would trigger a snapshot; enable one (or set `enabled: false`)',
    );
  }
  let journal: ResolvedSnapshotOptions['journal'] = { enabled: false, syncPolicy: 'everysec' };
  if (o.journal !== undefined) {
    const j = o.journal as unknown;
    if (typeof j !== 'object' || j === null)
      throw invalidArg(`\`journal\` must be an object, received ${describe(j)}`);
    const jo = j as { enabled?: unknown; syncPolicy?: unknown };
    journal = {
      enabled: ensureBoolean('journal.enabled', jo.enabled, false),
      syncPolicy:
        jo.syncPolicy === undefined
          ? 'everysec'
          : ensureOneOf('journal.syncPolicy', jo.syncPolicy, ['always', 'everysec', 'no']),
    };
  }
  let logger = consoleLogger;
  if (o.logger !== undefined) {
    const l = o.logger as unknown as Record<string, unknown>;
    if (
      typeof l !== 'object' ||
      l === null ||
      !['info', 'warn', 'error'].every((k) => typeof l[k] === 'function')
    ) {
      throw invalidArg('`logger` must have info, warn and error methods');
    }
    logger = o.logger;
  }
  return {
    enabled,
    intervalMs,
    minEventsBetweenSnapshots,
    maxConcurrentSnapshotJobs: int('maxConcurrentSnapshotJobs', o.maxConcurrentSnapshotJobs, 2, 1),
    snapshotsToKeep: int('snapshotsToKeep', o.snapshotsToKeep, 3, 1),
    maxSaveAttempts: int('maxSaveAttempts', o.maxSaveAttempts, 5, 1),
    backoffBaseDelayMs:
      o.backoffBaseDelayMs === undefined
        ? 100
        : ensurePositiveNumber('backoffBaseDelayMs', o.backoffBaseDelayMs),
    backoffFactor: o.backoffFactor === undefined ? 2 : ensurePositiveNumber('backoffFactor', o.backoffFactor),
    compactBeforeSnapshot: ensureBoolean('compactBeforeSnapshot', o.compactBeforeSnapshot, true),
    enableLocalTracing: ensureBoolean('enableLocalTracing', o.enableLocalTracing, false),
    finalSnapshotOnShutdown: ensureBoolean('finalSnapshotOnShutdown', o.finalSnapshotOnShutdown, true),
    allowEmptyRestore: ensureBoolean('allowEmptyRestore', o.allowEmptyRestore, false),
    journal,
    logger,
  };
}
