// The changes a client can ask of the registry, as plain JSON-compatible commands, and the one
// function that applies a command to a registry. A command carries everything its outcome depends on
// besides the registry's state (the receive time, the body's hash and memory estimate), so applying
// the same commands in the same order to the same state gives the same outcomes on any node: the
// single-node server applies them as they come, a cluster applies them in the order of its log.

import { ErrorCode, EventStoreError } from '../../errors.js';
import type { AppendResult } from '../../protocol.js';
import type { ProducerRequest } from './producers.js';
import type { StreamRegistry } from './stream-registry.js';

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

/** Delete `stream` (its next offset is kept: a re-created stream continues after it). */
export interface DeleteCommand {
  type: 'delete';
  stream: string;
}

export type Command = AppendCommand | DeleteCommand;

/** What a command returns when it succeeds. */
export interface CommandResults {
  append: AppendResult;
  delete: { stream: string; deleted: true; nextOffset: number };
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
  }
}

/**
 * Makes what an applied `command` changed visible to readers, once it is durable (journaled, or in the
 * cluster's log): an append's events. Every executor calls it after `applyCommand` succeeded.
 */
export function commitCommand<C extends Command>(
  registry: StreamRegistry,
  command: C,
  result: CommandResult<C>,
): void {
  if (command.type === 'append') {
    const { lastOffset } = result as CommandResults['append'];
    registry.get(command.stream)?.commit(lastOffset + 1);
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
  ErrorCode.IDEMPOTENCY_CONFLICT,
]);
