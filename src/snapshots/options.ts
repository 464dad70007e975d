// Validation of SnapshotOptions when snapshots are configured: defaults filled in, every bad value an
// ES_ERR_INVALID_ARG naming the option, `0` meaning "this trigger is off".

import {
  describe,
  ensureBoolean,
  ensureInteger,
  ensureNonNegativeNumber,
  ensurePositiveNumber,
  ensureSyncPolicy,
  invalidArg,
} from '../errors.js';
import type { JournalSyncPolicy, SnapshotLogger, SnapshotOptions } from './types.js';

/** {@link SnapshotOptions} validated, every default filled in. */
export interface ResolvedSnapshotOptions {
  enabled: boolean;
  intervalMs: number;
  minEventsBetweenSnapshots: number;
  journalGrowthFactor: number;
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
  'journalGrowthFactor',
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

/** Validates snapshot options and fills in the defaults; every bad value throws ES_ERR_INVALID_ARG. */
export function resolveSnapshotOptions(options: SnapshotOptions): ResolvedSnapshotOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArg(`snapshot \`options\` must be an object, received ${describe(options)}`);
  }
  for (const key of Object.keys(options))
    if (!KNOWN.has(key)) throw invalidArg(`unknown snapshot option \`${key}\``);
  const o = options;
  const enabled = ensureBoolean('enabled', o.enabled, true);
  const intervalMs = o.intervalMs === undefined ? 120_000 : ensureInteger('intervalMs', o.intervalMs, 0);
  const minEventsBetweenSnapshots =
    o.minEventsBetweenSnapshots === undefined
      ? 50_000
      : ensureInteger('minEventsBetweenSnapshots', o.minEventsBetweenSnapshots, 0);
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
      syncPolicy: ensureSyncPolicy('journal.syncPolicy', jo.syncPolicy, 'everysec'),
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
  const journalGrowthFactor = ensureNonNegativeNumber('journalGrowthFactor', o.journalGrowthFactor ?? 1);
  return {
    enabled,
    intervalMs,
    minEventsBetweenSnapshots,
    journalGrowthFactor,
    maxConcurrentSnapshotJobs:
      o.maxConcurrentSnapshotJobs === undefined
        ? 2
        : ensureInteger('maxConcurrentSnapshotJobs', o.maxConcurrentSnapshotJobs, 1),
    snapshotsToKeep:
      o.snapshotsToKeep === undefined ? 3 : ensureInteger('snapshotsToKeep', o.snapshotsToKeep, 1),
    maxSaveAttempts:
      o.maxSaveAttempts === undefined ? 5 : ensureInteger('maxSaveAttempts', o.maxSaveAttempts, 1),
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
