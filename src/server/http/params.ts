// Parsing and validation of what a request says: stream names, query parameters and headers. Every
// refusal is a domain error with a stable code (400 unless said otherwise) naming what was received.
// Pure functions.

import type { IncomingMessage } from 'node:http';
import { ErrorCode, EventStoreError } from '../../errors.js';
import type { ProducerRequest } from '../streams/producers.js';

const NAME_SEGMENT = /^[A-Za-z0-9._~-]+$/;
const MAX_NAME_LENGTH = 200;
const INTEGER = /^(0|[1-9][0-9]*)$/;

/** An ES_ERR_BAD_REQUEST error. */
export function badRequest(detail: string): EventStoreError {
  return new EventStoreError(ErrorCode.BAD_REQUEST, detail);
}

/** Validates a stream name; returns it or throws ES_ERR_INVALID_STREAM_NAME. */
export function validateStreamName(name: string): string {
  const bad = (why: string): EventStoreError =>
    new EventStoreError(
      ErrorCode.INVALID_STREAM_NAME,
      `stream name ${JSON.stringify(name.slice(0, 60))} ${why}; use 1-${MAX_NAME_LENGTH} letters, digits and ._-~/`,
    );
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) throw bad(`has ${name.length} characters`);
  for (const segment of name.split('/')) {
    if (segment === '') throw bad('has an empty segment');
    if (segment === '.' || segment === '..') throw bad('has a dot segment');
    if (!NAME_SEGMENT.test(segment)) throw bad('has a character outside the allowed set');
  }
  return name;
}

/** A non-negative safe integer from text, or undefined when absent; 400 otherwise. */
export function integerText(what: string, text: string | null | undefined): number | undefined {
  if (text === null || text === undefined) return undefined;
  const n = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(n)) {
    throw badRequest(`${what} must be a non-negative integer, received ${JSON.stringify(text.slice(0, 40))}`);
  }
  return n;
}

/** A request header as one string (repeated headers joined with commas). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** `Expected-Version`: the last offset the writer expects, -1 for a stream never appended to. */
export function parseExpectedVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  const n = Number(t);
  if (!/^(-1|0|[1-9][0-9]*)$/.test(t) || !Number.isSafeInteger(n)) {
    throw badRequest(
      `Expected-Version must be an integer >= -1 (the last offset expected, -1 for an empty stream), received ${JSON.stringify(t.slice(0, 40))}`,
    );
  }
  return n;
}

const PRODUCER_ID = /^[\x21-\x7e]{1,200}$/;

/** `Producer-Id`, `Producer-Epoch`, `Producer-Seq`: all three or none. */
export function parseProducer(req: IncomingMessage): ProducerRequest | undefined {
  const id = header(req, 'producer-id');
  const epoch = header(req, 'producer-epoch');
  const seq = header(req, 'producer-seq');
  if (id === undefined && epoch === undefined && seq === undefined) return undefined;
  if (id === undefined || epoch === undefined || seq === undefined) {
    throw badRequest('Producer-Id, Producer-Epoch and Producer-Seq must be sent together');
  }
  if (!PRODUCER_ID.test(id)) throw badRequest('Producer-Id must be 1-200 visible ASCII characters');
  return {
    id,
    epoch: integerText('Producer-Epoch', epoch.trim())!,
    seq: integerText('Producer-Seq', seq.trim())!,
  };
}

/** A time query parameter: epoch ms digits or an ISO 8601 date. */
export function parseTime(what: string, text: string | null): number | undefined {
  if (text === null) return undefined;
  if (/^-?[0-9]+$/.test(text)) {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return n;
  } else if (/^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw badRequest(
    `${what} must be epoch milliseconds or an ISO 8601 date, received ${JSON.stringify(text.slice(0, 40))}`,
  );
}

/** A field path of `aggregate`: dot-separated keys. */
export function parsePath(what: string, text: string | null): string[] | undefined {
  if (text === null) return undefined;
  if (text.length === 0 || text.length > 200 || text.split('.').some((k) => k === '')) {
    throw badRequest(`${what} must be a field name or a dotted path (a.b), 1-200 characters`);
  }
  return text.split('.');
}

/** A `from` parameter: an offset, `now` (the end: only what comes next), or absent. */
export function parseFrom(text: string | null): number | 'now' | undefined {
  if (text === 'now') return 'now';
  return integerText('from (an offset, or now)', text);
}

/** Refuses query parameters a route does not take (a misspelt `form=` would otherwise be ignored). */
export function onlyParams(params: URLSearchParams, allowed: readonly string[], what: string): void {
  for (const key of params.keys()) {
    if (!allowed.includes(key)) {
      throw badRequest(
        `unknown query parameter ${JSON.stringify(key.slice(0, 40))}; ${what} takes ${allowed.length === 0 ? 'none' : allowed.join(', ')}`,
      );
    }
  }
}
