import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ErrorCode, EventStoreError } from '../../src/errors.ts';
import { problem, problemBody, STATUS_BY_CODE } from '../../src/server/http/problem.ts';

const doc = readFileSync(new URL('../../docs/http-api.md', import.meta.url), 'utf8');

describe('error mapping', () => {
  it('documents the status of every code in docs/http-api.md exactly as STATUS_BY_CODE has it', () => {
    const documented = new Map<string, number>();
    for (const line of doc.split('\n')) {
      const m = /^\|\s*(\d{3})\s*\|(.*)\|\s*$/.exec(line);
      if (!m) continue;
      for (const code of m[2]!.matchAll(/`(ES_ERR_[A-Z_]+)`/g)) documented.set(code[1]!, Number(m[1]));
    }
    assert.deepEqual(new Map(Object.entries(STATUS_BY_CODE)), documented);
  });

  it('gives every HTTP-only code a status', () => {
    for (const code of Object.values(ErrorCode)) {
      if (code === ErrorCode.NETWORK) continue;
      const described = /HTTP \d{3}/.test(
        readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
          .split('\n')
          .find((l) => l.includes(`\`${code}\``)) ?? '',
      );
      if (described) assert.ok(STATUS_BY_CODE[code] !== undefined, `${code} has no status`);
    }
  });

  it('answers an unexpected error as 500 ES_ERR_INTERNAL without its message', () => {
    const body = problemBody(new Error('secret internals'));
    assert.equal(body.status, 500);
    assert.equal(body.code, 'ES_ERR_INTERNAL');
    assert.doesNotMatch(String(body.detail), /secret/);
    const snap = problemBody(new EventStoreError(ErrorCode.SNAPSHOT_CORRUPT, 'disk detail'));
    assert.equal(snap.status, 500);
    assert.equal(snap.code, 'ES_ERR_INTERNAL');
  });

  it('carries the code, detail and extra members of a problem', () => {
    const body = problemBody(problem(ErrorCode.OFFSET_EVICTED, 'gone', { firstOffset: 7 }));
    assert.deepEqual(body, {
      type: 'urn:lockfree-eventstore:error:ES_ERR_OFFSET_EVICTED',
      title: 'Gone',
      status: 410,
      detail: 'gone',
      code: 'ES_ERR_OFFSET_EVICTED',
      firstOffset: 7,
    });
  });
});
