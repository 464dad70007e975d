// The Durable Streams endpoint, `/v1/stream/{name}`: PUT create, POST append/close, GET read (catch-up,
// long-poll, SSE), HEAD metadata, DELETE. Mounted by the server's router (router.ts), which runs CORS,
// draining and authentication first and answers errors with this endpoint's status table
// (status.ts). Every answer, errors included, carries `X-Content-Type-Options: nosniff` and
// `Cross-Origin-Resource-Policy: cross-origin`. Unknown query parameters are ignored, as the protocol
// asks.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '../../../errors.js';
import type { RouteContext } from '../context.js';
import { problem } from '../problem.js';
import { headStream, readStream } from './read.js';
import { appendRoute, createRoute, deleteRoute } from './write.js';

/** Sets the headers every answer of the endpoint carries (before anything can fail). */
export function setDurableStreamsHeaders(res: ServerResponse): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('cross-origin-resource-policy', 'cross-origin');
}

/** Handles one request for stream `name`; `setRoute` names the route for the metrics. */
export async function handleDurableStreams(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RouteContext,
  name: string,
  params: URLSearchParams,
  setRoute: (route: string) => void,
): Promise<void> {
  switch (req.method) {
    case 'PUT':
      setRoute('ds-create');
      return createRoute(req, res, ctx, name, params);
    case 'POST':
      setRoute('ds-append');
      return appendRoute(req, res, ctx, name);
    case 'GET':
      setRoute('ds-read');
      return readStream(req, res, ctx, name, params);
    case 'HEAD':
      setRoute('ds-head');
      headStream(res, ctx, name);
      return;
    case 'DELETE':
      setRoute('ds-delete');
      return deleteRoute(res, ctx, name);
    default:
      throw problem(ErrorCode.METHOD_NOT_ALLOWED, 'allowed methods: GET, HEAD, POST, PUT, DELETE', {
        allow: 'GET, HEAD, POST, PUT, DELETE',
      });
  }
}
