// Writing a JSON answer. Values nested too deep for JSON.stringify are written all the same.

import type { ServerResponse } from 'node:http';
import { stringifyJson } from '../../json.js';

/** Answers `status` with `body` as JSON (`Cache-Control: no-store`). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = stringifyJson(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}
