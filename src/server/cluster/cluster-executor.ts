// Commands in cluster mode: published to the cluster's log as one message each, and answered with the
// outcome this node computes when it applies that message (the outcome every node computes). Knows no
// command type: it moves commands and outcomes. Runs on the server's thread.

import { ErrorCode, EventStoreError } from '../../errors.js';
import type { Command, CommandExecutor, CommandResult } from '../streams/commands.js';
import type { LogApplier, Outcome } from './log-applier.js';
import { encodeCommand } from './log-message.js';
import { type NatsLog, PublishFailure } from './nats-log.js';

interface Pending {
  settle(outcome: Outcome): void;
}

/** A node cut off from the log: nothing of the request was written. */
export function logUnavailable(why: string, cause?: unknown): EventStoreError {
  return new EventStoreError(
    ErrorCode.LOG_UNAVAILABLE,
    `this node is cut off from the cluster's log (${why}); nothing was written: retry on another node or later`,
    { cause, details: { retryAfterSeconds: 1 } },
  );
}

export class ClusterExecutor implements CommandExecutor {
  readonly #log: NatsLog;
  readonly #applier: LogApplier;
  readonly #origin: string;
  readonly #writeTimeoutMs: number;
  #requests = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(log: NatsLog, applier: LogApplier, origin: string, writeTimeoutMs: number) {
    this.#log = log;
    this.#applier = applier;
    this.#origin = origin;
    this.#writeTimeoutMs = writeTimeoutMs;
  }

  /** The applier's report of one of this process's messages (see LogApplier). */
  settle(request: number, outcome: Outcome): void {
    const p = this.#pending.get(request);
    if (p === undefined) return;
    this.#pending.delete(request);
    p.settle(outcome);
  }

  async execute<C extends Command>(command: C, json?: Uint8Array): Promise<CommandResult<C>> {
    const broken = this.#applier.broken;
    if (broken !== undefined) throw logUnavailable(broken.message, broken);
    if (!this.#log.connected) throw logUnavailable('no connection to NATS');
    const request = ++this.#requests;
    const bytes = encodeCommand(this.#origin, request, command, json);
    if (bytes.length > this.#log.maxPayload) {
      throw new EventStoreError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `the ${command.type} takes ${bytes.length} bytes in the cluster's log, over the largest message NATS takes (max_payload ${this.#log.maxPayload}); send smaller batches or raise max_payload`,
        { details: { maxBodyBytes: this.#log.maxPayload } },
      );
    }
    const startedAt = performance.now();
    // Registered before publishing: this node may apply the message before JetStream's ack arrives.
    const outcome = new Promise<Outcome>((resolve) => {
      this.#pending.set(request, { settle: resolve });
    });
    let seq: number;
    try {
      seq = await this.#log.publish(bytes, `${this.#origin}:${request}`, this.#writeTimeoutMs);
    } catch (err) {
      this.#pending.delete(request);
      if (err instanceof PublishFailure && err.stored === false) throw logUnavailable(err.message, err);
      throw new EventStoreError(
        ErrorCode.OUTCOME_UNKNOWN,
        `the cluster's log did not confirm the ${command.type} (${(err as Error).message}); it may still be stored and applied: retry it with the same producer sequence, or read the stream to find out`,
        { cause: err, details: { retryAfterSeconds: 1 } },
      );
    }
    const left = this.#writeTimeoutMs - (performance.now() - startedAt);
    let timer: NodeJS.Timeout | undefined;
    let offBroken: (() => void) | undefined;
    const settled = await Promise.race([
      outcome,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), Math.max(left, 1_000));
      }),
      new Promise<undefined>((resolve) => {
        offBroken = this.#applier.onBroken(() => resolve(undefined));
      }),
    ]);
    clearTimeout(timer);
    offBroken?.();
    if (settled === undefined) {
      this.#pending.delete(request);
      throw new EventStoreError(
        ErrorCode.OUTCOME_UNKNOWN,
        `the ${command.type} is in the cluster's log at sequence ${seq}, but this node has not applied it yet (it is at ${this.#applier.applied}); its outcome is decided there: read the stream, or retry with the same producer sequence`,
        { details: { retryAfterSeconds: 1 } },
      );
    }
    if (!settled.ok) throw settled.error;
    return settled.result as CommandResult<C>;
  }
}
