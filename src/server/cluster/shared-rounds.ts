// Rounds of an asynchronous step shared by every caller that may share it: a caller gets a round that
// starts at or after its call, never one already under way (which may have looked at the world before
// the caller came). One round runs at a time; the callers that come while it runs share the next one.
// The read barrier of a cluster node uses it so that any number of concurrent reads ask the log one
// question per round.

export class SharedRounds {
  readonly #step: () => Promise<void>;
  /** The round under way. */
  #current: Promise<void> | undefined;
  /** Callers that came while `#current` ran: settled by the round that starts after it. */
  #next: { promise: Promise<void>; settle: () => void } | undefined;

  /** `step` is one round; it must not reject (a failed round is settled like a finished one). */
  constructor(step: () => Promise<void>) {
    this.#step = step;
  }

  /** Resolves once a round that started at or after this call has ended. */
  run(): Promise<void> {
    if (this.#current === undefined) {
      this.#current = this.#round();
      return this.#current;
    }
    if (this.#next === undefined) {
      let settle!: () => void;
      const promise = new Promise<void>((resolve) => {
        settle = resolve;
      });
      this.#next = { promise, settle };
    }
    return this.#next.promise;
  }

  async #round(): Promise<void> {
    try {
      await this.#step();
    } catch {
      // settled like a finished round: the caller answers with what it has
    } finally {
      const next = this.#next;
      this.#next = undefined;
      if (next === undefined) {
        this.#current = undefined;
      } else {
        this.#current = this.#round();
        void this.#current.then(next.settle);
      }
    }
  }
}
