// Starts a real server on port 0 with a temporary data directory, and asserts problem+json
// answers: for the server, client and sample tests.

import assert from 'node:assert/strict';
import { createServer, type EventStoreServer, type ServerOptions } from '../../src/server/index.ts';
import { removeTempDir, tempDir } from './temp-dir.ts';

export interface RunningServer {
  server: EventStoreServer;
  url: string;
  dataDir: string;
  /** Closes the server (the data directory stays until `cleanup`). */
  close(): Promise<void>;
  /** Closes the server and removes the data directory. */
  cleanup(): Promise<void>;
}

export async function startServer(options: ServerOptions = {}, dataDir?: string): Promise<RunningServer> {
  const dir = dataDir ?? (await tempDir('lfes-server-'));
  const server = createServer({ port: 0, logLevel: 'silent', dataDir: dir, ...options });
  const url = await server.listen();
  return {
    server,
    url,
    dataDir: dir,
    close: () => server.close(),
    cleanup: async () => {
      await server.close();
      await removeTempDir(dir);
    },
  };
}

/** POSTs a JSON (or raw) body; returns status, headers and the parsed body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    headers: res.headers,
  };
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; text: string }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON (metrics, NDJSON)
  }
  return { status: res.status, body, headers: res.headers, text };
}

/** Asserts an `application/problem+json` answer with this status and code (and its standard members). */
export function problem(
  r: { status: number; body: Record<string, unknown>; headers: Headers },
  status: number,
  code: string,
): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.code, code);
  assert.equal(r.body.status, status);
  assert.equal(typeof r.body.detail, 'string');
  assert.equal(typeof r.body.title, 'string');
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
}
