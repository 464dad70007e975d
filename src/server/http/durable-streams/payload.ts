// The body of a Durable Streams `PUT` or `POST`, as a command carries it: JSON messages for a JSON
// content type (a top-level array is split one level into messages, as the protocol's JSON mode
// says, with the server's JSON limits), else the bytes as base64 (commands are JSON, and travel as
// such to a cluster's log). Pure.

import { isJsonContentType } from '../../streams/stream-config.js';
import { parseEvents } from '../body.js';

/** Data of a request body, and what it is charged against the memory budget. */
export interface Payload {
  /** JSON content: the messages. */
  data?: unknown[];
  /** Other content: the bytes, base64. */
  bytes?: string;
  /** Estimated heap bytes of the data. */
  charge: number;
  /** The JSON text of `data` as one array (for the journal), when it is the body's own. */
  json?: Uint8Array | undefined;
}

/**
 * The payload of `body` sent as `contentType`. An empty body is no data; so is `[]` when
 * `allowEmptyArray` (a `PUT` creating an empty JSON stream), which is 400 otherwise (an append of nothing).
 */
export function parsePayload(
  body: Buffer,
  contentType: string,
  maxJsonDepth: number,
  allowEmptyArray: boolean,
): Payload {
  if (body.length === 0) return { charge: 0 };
  if (!isJsonContentType(contentType)) return { bytes: body.toString('base64'), charge: body.length };
  const { events, heapBytes, json } = parseEvents(body, 'json', maxJsonDepth, allowEmptyArray);
  if (events.length === 0) return { charge: 0 };
  return { data: events, charge: heapBytes, json };
}
