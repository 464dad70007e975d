// Applies the cluster's log to this node's registry, in log order, one message at a time: the same
// `applyCommand` as the single-node server, so every node that applies the same log computes the same
// offsets and the same accept/reject outcome. Keeps the applied position, hands the outcome of this
// process's own messages to whoever waits for it, and wakes the readers waiting for a position.
// Runs on the server's thread; `apply` is one synchronous step per message.

import { ErrorCode, EventStoreError } from '../../errors.js';
import { acknowledgeCommand, applyCommand, type CommandResult } from '../streams/commands.js';
import type { StreamRegistry } from '../streams/stream-registry.js';
import { decodeLogMessage, settingsDifferences } from './log-message.js';

/** What applying a command gave: its result, or the error that refused it. */
export type Outcome = { ok: true; result: CommandResult<never> } | { ok: false; error: unknown };

/** Logs what the applier meets that every node meets alike (pino-compatible subset). */
export interface ApplierLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

interface PositionWaiter {
  seq: number;
  resolve(reached: boolean): void;
}

export class LogApplier {
  readonly #registry: StreamRegistry;
  readonly #origin: string;
  readonly #logger: ApplierLogger;
  readonly #onOwnOutcome: (request: number, seq: number, outcome: Outcome) => void;
  /** Sequence of the last message applied (0: none). */
  #applied = 0;
  /** Set once the node can no longer follow the log (a gap, settings that differ): why. */
  #broken: EventStoreError | undefined;
  readonly #waiters = new Set<PositionWaiter>();
  /** The smallest sequence a waiter waits for (Infinity when none). */
  #lowestWait = Number.POSITIVE_INFINITY;
  readonly #brokenListeners = new Set<(err: EventStoreError) => void>();

  /**
   * `origin` marks this process's messages; `onOwnOutcome` receives the outcome of each of them as it
   * is applied (`request` is the number the message carries).
   */
  constructor(
    registry: StreamRegistry,
    origin: string,
    logger: ApplierLogger,
    onOwnOutcome: (request: number, seq: number, outcome: Outcome) => void,
  ) {
    this.#registry = registry;
    this.#origin = origin;
    this.#logger = logger;
    this.#onOwnOutcome = onOwnOutcome;
  }

  /** Sequence of the last message applied (the node's position in the log; 0 before any). */
  get applied(): number {
    return this.#applied;
  }

  /** Why the node stopped following the log, if it did. */
  get broken(): EventStoreError | undefined {
    return this.#broken;
  }

  /** Sets the position a restored checkpoint covers (before anything is applied). */
  restoredAt(seq: number): void {
    this.#applied = seq;
  }

  /** Calls `listener` once if the node stops following the log; returns the cancel function. */
  onBroken(listener: (err: EventStoreError) => void): () => void {
    this.#brokenListeners.add(listener);
    return () => this.#brokenListeners.delete(listener);
  }

  /** Applies message `seq` (its bytes `data`). Messages at or below the position are skipped. */
  apply(seq: number, data: Uint8Array): void {
    if (this.#broken !== undefined || seq <= this.#applied) return;
    if (seq !== this.#applied + 1) {
      this.#break(
        `the log skips from ${this.#applied} to ${seq}: the messages between were removed from the log, so this node cannot rebuild the state they made; start it from a checkpoint at or after ${seq - 1} (another node's data directory) or enlarge the log's retention`,
      );
      return;
    }
    const message = decodeLogMessage(data);
    if (message === undefined) {
      this.#logger.warn({ seq }, 'skipping a log message that is not a command');
    } else if (message.kind === 'settings') {
      const diff = settingsDifferences(message.settings, this.#registry.options);
      if (diff.length > 0) {
        this.#break(
          `this node's registry options differ from the cluster's (${diff.join('; ')}): every node must be started with the same stream and memory limits`,
        );
        return;
      }
    } else {
      let outcome: Outcome;
      try {
        const result = applyCommand(this.#registry, message.command);
        acknowledgeCommand(this.#registry, message.command, result);
        outcome = { ok: true, result: result as CommandResult<never> };
      } catch (err) {
        // A refusal is decided by the registry's state and the command alone: every node refuses alike.
        if (!(err instanceof EventStoreError))
          this.#logger.error({ err, seq }, 'a log message failed to apply');
        outcome = { ok: false, error: err };
      }
      this.#applied = seq;
      if (message.origin === this.#origin) this.#onOwnOutcome(message.request, seq, outcome);
      this.#wake();
      return;
    }
    this.#applied = seq;
    this.#wake();
  }

  /**
   * Resolves true once the node has applied `seq` (at once if it has), false after `timeoutMs` or when
   * the node stops following the log.
   */
  waitFor(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.#applied >= seq) return Promise.resolve(true);
    if (this.#broken !== undefined || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer =
        timeoutMs === Number.POSITIVE_INFINITY
          ? undefined
          : setTimeout(() => {
              this.#waiters.delete(waiter);
              resolve(false);
            }, timeoutMs);
      const waiter: PositionWaiter = {
        seq,
        resolve: (reached) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      this.#waiters.add(waiter);
      this.#lowestWait = Math.min(this.#lowestWait, seq);
    });
  }

  #wake(): void {
    if (this.#applied < this.#lowestWait) return;
    let lowest = Number.POSITIVE_INFINITY;
    for (const w of this.#waiters) {
      if (w.seq <= this.#applied) {
        this.#waiters.delete(w);
        w.resolve(true);
      } else lowest = Math.min(lowest, w.seq);
    }
    this.#lowestWait = lowest;
  }

  #break(message: string): void {
    this.#broken = new EventStoreError(ErrorCode.LOG_UNAVAILABLE, message);
    this.#logger.error({ applied: this.#applied }, message);
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters.clear();
    this.#lowestWait = Number.POSITIVE_INFINITY;
    for (const l of this.#brokenListeners) l(this.#broken);
  }
}
