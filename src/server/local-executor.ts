// Commands on this process's registry (the single-node server): applied at once, in the order they
// come, then acknowledged once the journal holds them. Runs on the server's thread.

import { ErrorCode, EventStoreError } from '../errors.js';
import {
  applyCommand,
  CONFLICT_CODES,
  type Command,
  type CommandExecutor,
  type CommandResult,
  commitCommand,
} from './streams/commands.js';
import type { StreamRegistry } from './streams/stream-registry.js';

export class LocalExecutor implements CommandExecutor {
  readonly #registry: StreamRegistry;
  readonly #flush: () => Promise<void>;

  /** `flush` resolves when every change made so far is in the journal (at once without one). */
  constructor(registry: StreamRegistry, flush: () => Promise<void>) {
    this.#registry = registry;
    this.#flush = flush;
  }

  async execute<C extends Command>(command: C, json?: Uint8Array): Promise<CommandResult<C>> {
    let result: CommandResult<C>;
    try {
      result = applyCommand(this.#registry, command, json);
    } catch (err) {
      // A conflict names offsets or a version of appends that may still wait for the journal: it is
      // answered once they are acknowledged, like the appends themselves.
      if (err instanceof EventStoreError && CONFLICT_CODES.has(err.code)) await this.#flush();
      throw err;
    }
    // Acknowledge only what the journal holds; the wait is shared by every command of this turn. If
    // the journal fails, the change stays applied and the journal retries it: it may yet be kept, or
    // be lost in a crash, so the outcome is unknown, never "not made".
    try {
      await this.#flush();
    } catch (err) {
      throw new EventStoreError(
        ErrorCode.OUTCOME_UNKNOWN,
        `the ${command.type} was applied but the journal could not write it (${(err as Error).message}); it becomes ` +
          'visible only once the journal has it, and a crash before that loses it: retry it with the same producer sequence, or read the stream to find out',
        { cause: err, details: { retryAfterSeconds: 1 } },
      );
    }
    commitCommand(this.#registry, command, result);
    return result;
  }
}
