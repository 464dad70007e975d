// EventStoreClient with several base URLs (the nodes of a cluster), against a scripted fetch: reads
// move on at once to the next node after a network error or a 503; an append moves on at once only
// when the node answered that it did nothing (503 ES_ERR_LOG_UNAVAILABLE); after a network error the
// append fails (its outcome is unknown) and the next call goes to the next node.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, EventStoreClient, EventStoreHttpError } from '../../src/client/index.ts';

type Answer = 'refuse' | { status: number; body: unknown };

/** A fetch whose answers per node are scripted in order; records every URL asked. */
function scripted(answers: Record<string, Answer[]>): { fetch: typeof fetch; asked: string[] } {
  const asked: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = String(input);
    asked.push(url);
    const node = new URL(url).host;
    const next = answers[node]?.shift();
    if (next === undefined) throw new Error(`no scripted answer for ${url}`);
    if (next === 'refuse') throw new TypeError('fetch failed (connection refused)');
    const type = next.status >= 400 ? 'application/problem+json' : 'application/json';
    return new Response(JSON.stringify(next.body), {
      status: next.status,
      headers: { 'content-type': type },
    });
  }) as typeof fetch;
  return { fetch: fetchImpl, asked };
}

const PAGE = { stream: 's', events: [], firstOffset: 0, lastOffset: -1, nextOffset: 0 };
const ACK = { stream: 's', firstOffset: 0, lastOffset: 0, count: 1 };
const cutOff = {
  status: 503,
  body: { status: 503, code: ErrorCode.LOG_UNAVAILABLE, title: 'Service Unavailable', detail: 'cut off' },
};
const unknown = {
  status: 503,
  body: { status: 503, code: ErrorCode.OUTCOME_UNKNOWN, title: 'Service Unavailable', detail: 'unknown' },
};

describe('EventStoreClient with several nodes', () => {
  it('rejects an empty list of base URLs', () => {
    assert.throws(() => new EventStoreClient([]), { code: ErrorCode.INVALID_ARG });
  });

  it('reads from the next node at once when one is down or answers 503, and stays there', async () => {
    const s = scripted({
      'a:1': ['refuse'],
      'b:1': [cutOff],
      'c:1': [
        { status: 200, body: PAGE },
        { status: 200, body: PAGE },
      ],
    });
    const es = new EventStoreClient(['http://a:1', 'http://b:1', 'http://c:1/'], { fetch: s.fetch });
    for await (const _ of es.read('s')) assert.fail('no events');
    assert.equal(es.baseUrl, 'http://c:1');
    for await (const _ of es.read('s')) assert.fail('no events');
    assert.deepEqual(
      s.asked.map((u) => new URL(u).host),
      ['a:1', 'b:1', 'c:1', 'c:1'],
    );
  });

  it('sends an append to the next node at once only when the node did nothing', async () => {
    const s = scripted({ 'a:1': [cutOff], 'b:1': [{ status: 201, body: ACK }] });
    const es = new EventStoreClient(['http://a:1', 'http://b:1'], { fetch: s.fetch });
    assert.deepEqual(await es.append('s', { x: 1 }), ACK);
    assert.deepEqual(
      s.asked.map((u) => new URL(u).host),
      ['a:1', 'b:1'],
    );
  });

  it('fails an append whose outcome is unknown, and sends the next call to the next node', async () => {
    const s = scripted({ 'a:1': ['refuse', unknown], 'b:1': [{ status: 201, body: ACK }, unknown] });
    const es = new EventStoreClient(['http://a:1', 'http://b:1'], { fetch: s.fetch });
    await assert.rejects(es.append('s', { x: 1 }), (err: unknown) => {
      assert.ok(err instanceof EventStoreHttpError);
      assert.equal(err.code, ErrorCode.NETWORK);
      return true;
    });
    assert.deepEqual(await es.append('s', { x: 1 }), ACK);
    await assert.rejects(es.append('s', { x: 2 }), { code: ErrorCode.OUTCOME_UNKNOWN });
    assert.equal(es.baseUrl, 'http://a:1', 'a 503 moves on');
    await assert.rejects(es.append('s', { x: 3 }), { code: ErrorCode.OUTCOME_UNKNOWN });
    assert.deepEqual(
      s.asked.map((u) => new URL(u).host),
      ['a:1', 'b:1', 'b:1', 'a:1'],
    );
  });

  it('retries an idempotent producer append on the next node with the same sequence', async () => {
    const s = scripted({ 'a:1': ['refuse'], 'b:1': [{ status: 201, body: ACK }] });
    const es = new EventStoreClient(['http://a:1', 'http://b:1'], { fetch: s.fetch });
    const seqs: string[] = [];
    const inner = s.fetch;
    const spy = (async (input: string | URL | Request, init?: RequestInit) => {
      seqs.push(String((init?.headers as Record<string, string> | undefined)?.['producer-seq']));
      return inner(input, init);
    }) as typeof fetch;
    const p = new EventStoreClient(es.baseUrls, { fetch: spy }).producer('p', { epoch: 1, retryDelayMs: 1 });
    assert.deepEqual(await p.append('s', { x: 1 }), ACK);
    assert.deepEqual(seqs, ['0', '0']);
    assert.deepEqual(
      s.asked.map((u) => new URL(u).host),
      ['a:1', 'b:1'],
    );
  });
});
