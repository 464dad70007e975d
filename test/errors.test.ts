import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { EventStoreHttpError } from '../src/client/index.ts';
import { ensureSyncPolicy } from '../src/errors.ts';
import { ErrorCode, EventStore, EventStoreError } from '../src/index.ts';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

/** Rows of the table in docs/errors.md: [code, constant]. */
function documentedCodes(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const m = /^\|\s*`(ES_ERR_[A-Z_]+)`\s*\|\s*`ErrorCode\.([A-Z_]+)`\s*\|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

/** Rows of the class table in docs/errors.md: class -> documented `name`. */
function documentedClasses(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of doc.split('\n')) {
    const m = /^\|\s*`([A-Za-z]+)`\s*\|\s*`'([A-Za-z]+)'`\s*\|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!);
  }
  return rows;
}

/** Every error class a user can meet, built once: the class table must list exactly these. */
const ERROR_CLASSES: ReadonlyMap<string, () => Error> = new Map([
  ['EventStoreError', () => new EventStoreError(ErrorCode.INTERNAL, 'built by the test')],
  ['EventStoreHttpError', () => new EventStoreHttpError(ErrorCode.INTERNAL, 'built by the test', 500)],
]);

describe('error classes', () => {
  it('reports the name docs/errors.md gives each error class', () => {
    const rows = documentedClasses();
    for (const [cls, build] of ERROR_CLASSES) {
      const err = build();
      assert.ok(err instanceof EventStoreError, `${cls} is an EventStoreError`);
      assert.equal(rows.get(cls), cls, `docs/errors.md lists ${cls} under its own name`);
      assert.equal(err.name, cls);
      assert.match(String(err.stack), new RegExp(`^${cls}: built by the test`));
    }
  });

  it('documents no error class that the test does not build', () => {
    for (const cls of documentedClasses().keys()) {
      assert.ok(ERROR_CLASSES.has(cls), `docs/errors.md lists ${cls}; add it to ERROR_CLASSES`);
    }
  });
});

describe('error codes', () => {
  it('documents every ErrorCode in docs/errors.md under its constant name', () => {
    const rows = documentedCodes();
    for (const [constant, code] of Object.entries(ErrorCode)) {
      assert.equal(
        rows.get(code),
        constant,
        `${code} (ErrorCode.${constant}) is missing from docs/errors.md`,
      );
    }
  });

  it('documents no code that the library does not define', () => {
    const defined = new Set<string>(Object.values(ErrorCode));
    for (const code of documentedCodes().keys()) {
      assert.ok(defined.has(code), `docs/errors.md lists ${code}, which ErrorCode does not define`);
    }
  });

  it('uses unique ES_ERR_ codes', () => {
    const values = Object.values(ErrorCode);
    assert.equal(new Set(values).size, values.length);
    for (const v of values) assert.match(v, /^ES_ERR_[A-Z_]+$/);
  });

  it('throws EventStoreError with a fixed name and a code callers can match', () => {
    const err = (() => {
      try {
        new EventStore({ capacity: -5 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof EventStoreError);
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'EventStoreError');
    assert.equal(err.code, ErrorCode.INVALID_ARG);
    assert.match(err.message, /`capacity`.*-5/);
  });

  it('checks a journal sync policy naming the option, the policies allowed and the value received', () => {
    for (const policy of ['always', 'everysec', 'no'] as const)
      assert.equal(ensureSyncPolicy('fsync', policy), policy);
    assert.equal(ensureSyncPolicy('fsync', undefined, 'everysec'), 'everysec');
    assert.throws(() => ensureSyncPolicy('fsync', undefined), { code: ErrorCode.INVALID_ARG });
    assert.throws(
      () => ensureSyncPolicy('journal.syncPolicy', 'sometimes', 'everysec'),
      (err: unknown) =>
        err instanceof EventStoreError &&
        err.code === ErrorCode.INVALID_ARG &&
        /^`journal\.syncPolicy` must be 'always' or 'everysec' or 'no', received "sometimes"$/.test(
          err.message,
        ),
    );
  });
});
