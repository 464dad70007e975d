// A plain model of the Durable Streams endpoint for the restart tests: what each stream must hold
// (JSON messages or byte chunks, inherited from a fork's source up to its fork point), whether it is
// closed, deleted, or deleted but kept for its forks (410), and each producer's last sequence; and
// the checks that compare a running server with it over HTTP.

import assert from 'node:assert/strict';

export interface ModelStream {
  name: string;
  json: boolean;
  contentType: string;
  /** Every event the stream reads as, from offset 0: inherited ones first (JSON values or byte chunks). */
  events: (unknown | Buffer)[];
  closed: boolean;
  /** Deleted while forks read it: 410 until its last fork goes, then 404. */
  gone: boolean;
  deleted: boolean;
  source?: string;
  /** Producer id -> last accepted sequence (epoch 0). */
  producers: Map<string, number>;
}

export class DurableStreamsModel {
  readonly streams = new Map<string, ModelStream>();

  live(): ModelStream[] {
    return [...this.streams.values()].filter((s) => !s.deleted && !s.gone);
  }

  forksOf(name: string): ModelStream[] {
    return [...this.streams.values()].filter((s) => s.source === name && !s.deleted);
  }

  /** Deletes `name` as the server does: softly while forks read it, then its freed sources up the chain. */
  delete(name: string): void {
    const s = this.streams.get(name)!;
    if (this.forksOf(name).length > 0) {
      s.gone = true;
      return;
    }
    s.deleted = true;
    s.gone = false;
    let source = s.source;
    while (source !== undefined) {
      const src = this.streams.get(source)!;
      if (!src.gone || this.forksOf(source).length > 0) return;
      src.gone = false;
      src.deleted = true;
      source = src.source;
    }
  }
}

export const url = (base: string, name: string): string => `${base}/v1/stream/${name}`;

/** The whole content of a stream, read page by page from `-1`, and its closing headers. */
export async function readAll(
  base: string,
  name: string,
): Promise<{ status: number; events: unknown[] | Buffer; closed: boolean }> {
  let offset = '-1';
  const parts: Buffer[] = [];
  const values: unknown[] = [];
  let json = false;
  for (let page = 0; page < 1000; page++) {
    const res = await fetch(`${url(base, name)}?offset=${offset}`);
    if (res.status !== 200) return { status: res.status, events: [], closed: false };
    json = (res.headers.get('content-type') ?? '').startsWith('application/json');
    const body = Buffer.from(await res.arrayBuffer());
    if (json) values.push(...(JSON.parse(body.toString('utf8')) as unknown[]));
    else parts.push(body);
    offset = res.headers.get('stream-next-offset')!;
    if (res.headers.get('stream-up-to-date') === 'true') {
      return {
        status: 200,
        events: json ? values : Buffer.concat(parts),
        closed: res.headers.get('stream-closed') === 'true',
      };
    }
  }
  throw new Error(`${name}: no end after 1000 pages`);
}

/** Asserts that the server holds every stream of the model as the model says. */
export async function checkServer(base: string, model: DurableStreamsModel, where: string): Promise<void> {
  for (const s of model.streams.values()) {
    const head = await fetch(url(base, s.name), { method: 'HEAD' });
    const expected = s.deleted ? 404 : s.gone ? 410 : 200;
    assert.equal(head.status, expected, `${where}: HEAD ${s.name}`);
    if (expected !== 200) continue;
    assert.equal(head.headers.get('content-type'), s.contentType, `${where}: content type of ${s.name}`);
    const read = await readAll(base, s.name);
    assert.equal(read.status, 200, `${where}: GET ${s.name}`);
    if (s.json) assert.deepEqual(read.events, s.events, `${where}: messages of ${s.name}`);
    else {
      const bytes = Buffer.concat(s.events as Buffer[]);
      assert.ok((read.events as Buffer).equals(bytes), `${where}: bytes of ${s.name}`);
    }
    assert.equal(read.closed, s.closed, `${where}: Stream-Closed of ${s.name}`);
    const next = head.headers.get('stream-next-offset')!;
    assert.equal(Number(next.split('_')[0]), s.events.length, `${where}: next offset of ${s.name}`);
  }
}
