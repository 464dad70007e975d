// The changes a client can ask of the registry, as plain JSON-compatible commands, and the one
// function that applies a command to a registry. A command carries everything its outcome depends on
// besides the registry's state (the receive time, the body's hash and memory estimate), so applying
// the same commands in the same order to the same state gives the same outcomes on any node: the
// single-node server applies them as they come, a cluster applies them in the order of its log.

import { ErrorCode, EventStoreError } from '../../errors.js';
import type { AppendResult } from '../../protocol.js';
import type { ProducerRequest } from './producers.js';
import type { CreateResult, ForkRequest } from './stream-create.js';
import type { StreamRegistry } from './stream-registry.js';
import type { WriteResult } from './stream-write.js';

/** Append `data` to `stream` (see StreamRegistry.append for the checks and their errors). */
export interface AppendCommand {
  type: 'append';
  stream: string;
  data: unknown[];
  /** Last offset the stream must have (-1: none ever appended). */
  expectedVersion?: number;
  producer?: ProducerRequest;
  /** CRC-32 of the request body (compared on producer retries). */
  hash: number;
  /** Capacity of the stream when this append creates it. */
  capacity?: number;
  /** Receive time, epoch ms. */
  timestamp: number;
  /** Estimated heap bytes of the events (the memory budget's charge). */
  bytes: number;
}

/**
 * Delete `stream` (its next offset is kept: a re-created stream continues after it). A stream that
 * forks read is kept, marked deleted, until its last fork is deleted.
 */
export interface DeleteCommand {
  type: 'delete';
  stream: string;
}

/** Create `stream` with a configuration (a Durable Streams `PUT`; see StreamRegistry.create). */
export interface CreateCommand {
  type: 'create';
  stream: string;
  contentType: string;
  ttlSeconds?: number;
  /** Fixed expiry, epoch ms. */
  expiresAtMs?: number;
  closed: boolean;
  fork?: ForkRequest;
  /** JSON streams: the initial messages. */
  data?: unknown[];
  /** Byte streams: the initial bytes, base64. */
  bytes?: string;
  /** Estimated heap bytes of the initial data. */
  charge: number;
  capacity?: number;
  /** Receive time, epoch ms (also the start of a sliding TTL). */
  timestamp: number;
}

/** Append to or close `stream` under the Durable Streams rules (see StreamRegistry.write). */
export interface WriteCommand {
  type: 'write';
  stream: string;
  /** Content type of the body; absent for a close without data. */
  contentType?: string;
  /** JSON streams: the messages. */
  data?: unknown[];
  /** Byte streams: the chunk, base64. */
  bytes?: string;
  close: boolean;
  /** `Stream-Seq`. */
  seq?: string;
  producer?: ProducerRequest;
  /** Receive time, epoch ms (also refreshes a sliding TTL). */
  timestamp: number;
  /** Estimated heap bytes of the data. */
  charge: number;
}

/** A read refreshes the sliding TTL of `stream` at `timestamp` (see StreamRegistry.touch). */
export interface TouchCommand {
  type: 'touch';
  stream: string;
  timestamp: number;
}

/**
 * Remove those of `streams` that expired at `timestamp`, and deleted streams no fork reads any more
 * (see StreamRegistry.expire). Issued by the server's expiry sweep with its clock's time.
 */
export interface ExpireCommand {
  type: 'expire';
  streams: string[];
  timestamp: number;
}

export type Command =
  | AppendCommand
  | DeleteCommand
  | CreateCommand
  | WriteCommand
  | TouchCommand
  | ExpireCommand;

/** What a command returns when it succeeds. */
export interface CommandResults {
  append: AppendResult;
  delete: { stream: string; deleted: true; nextOffset: number };
  create: CreateResult;
  write: WriteResult;
  touch: { stream: string };
  expire: { removed: string[] };
}

/** The result of `command`. */
export type CommandResult<C extends Command> = CommandResults[C['type']];

/**
 * Applies `command` to `registry` in one synchronous step and returns its result, or throws the
 * domain error that refuses it (nothing changed then). `json`: the UTF-8 JSON text of an append's
 * data array, if at hand (the journal then embeds these bytes instead of serialising again).
 */
export function applyCommand<C extends Command>(
  registry: StreamRegistry,
  command: C,
  json?: Uint8Array,
): CommandResult<C> {
  switch (command.type) {
    case 'append': {
      const c = command as AppendCommand;
      return registry.append(c.stream, c.data, {
        expectedVersion: c.expectedVersion,
        producer: c.producer,
        hash: c.hash,
        capacity: c.capacity,
        timestamp: c.timestamp,
        bytes: c.bytes,
        json,
      }) as CommandResult<C>;
    }
    case 'delete': {
      const stream = registry.delete(command.stream);
      if (stream === undefined) {
        throw new EventStoreError(
          ErrorCode.STREAM_NOT_FOUND,
          `stream ${JSON.stringify(command.stream)} does not exist`,
        );
      }
      return { stream: command.stream, deleted: true, nextOffset: stream.next } as CommandResult<C>;
    }
    case 'create': {
      const c = command as CreateCommand;
      return registry.create(c.stream, {
        contentType: c.contentType,
        ttlSeconds: c.ttlSeconds,
        expiresAtMs: c.expiresAtMs,
        closed: c.closed,
        fork: c.fork,
        data: c.data,
        bytes: c.bytes,
        charge: c.charge,
        capacity: c.capacity,
        timestamp: c.timestamp,
        json,
      }) as CommandResult<C>;
    }
    case 'write': {
      const c = command as WriteCommand;
      return registry.write(c.stream, {
        contentType: c.contentType,
        data: c.data,
        bytes: c.bytes,
        json,
        close: c.close,
        seq: c.seq,
        producer: c.producer,
        timestamp: c.timestamp,
        charge: c.charge,
      }) as CommandResult<C>;
    }
    case 'touch': {
      const c = command as TouchCommand;
      registry.touch(c.stream, c.timestamp);
      return { stream: c.stream } as CommandResult<C>;
    }
    case 'expire': {
      const c = command as ExpireCommand;
      return { removed: registry.expire(c.streams, c.timestamp) } as CommandResult<C>;
    }
  }
}

/**
 * Marks what `command` changed as acknowledged once its outcome is durable: the events it appended
 * and a closure become visible to readers. Every executor calls it after making a command durable.
 */
export function acknowledgeCommand<C extends Command>(
  registry: StreamRegistry,
  command: C,
  result: CommandResult<C>,
): void {
  switch (command.type) {
    case 'append': {
      const { lastOffset } = result as CommandResults['append'];
      registry.get(command.stream)?.commit(lastOffset + 1);
      return;
    }
    case 'create':
    case 'write': {
      const { nextOffset } = result as CommandResults['create'] | CommandResults['write'];
      const stream = registry.get((command as CreateCommand | WriteCommand).stream);
      stream?.commit(nextOffset);
      stream?.commitClose();
      return;
    }
    default:
      return;
  }
}

/** Runs commands: on this process's registry, or (in a cluster) through the shared log. */
export interface CommandExecutor {
  /**
   * Applies `command` and resolves once its outcome is durable (journaled, or in the cluster's log)
   * and visible to readers; rejects with the domain error that refused it, or with
   * ES_ERR_OUTCOME_UNKNOWN when it was applied but could not be made durable.
   */
  execute<C extends Command>(command: C, json?: Uint8Array): Promise<CommandResult<C>>;
}

/** Refusals that name offsets, versions or sequences of appends that may still await the journal. */
export const CONFLICT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.WRONG_EXPECTED_VERSION,
  ErrorCode.PRODUCER_FENCED,
  ErrorCode.PRODUCER_SEQUENCE,
  ErrorCode.PRODUCER_EPOCH_START,
  ErrorCode.IDEMPOTENCY_CONFLICT,
  ErrorCode.STREAM_CLOSED,
  ErrorCode.STREAM_SEQ_CONFLICT,
  ErrorCode.STREAM_EXISTS,
]);
