// The delta journal's writer: an append-only log of what changed since the last snapshot, replayed after
// the snapshots on restore (restore.ts). Records are built synchronously on the append path (the event is
// encoded before the store changes) and written by one asynchronous pump with group commit: everything
// buffered goes out in one write (+ one fsync for 'always'), so concurrent `flush()` callers share a
// single fsync. The segment format is in journal-format.ts.
// Concurrency contract: one writer per store, on the store's thread. After a write or fsync failure the
// segment is abandoned (fsync is never retried on the same file): the records since the last successful
// sync are rewritten into a new segment on the next flush. 'everysec' fsyncs in the background, beside
// the pump: writes go on during the fsync, which covers what was written before it began.

import { ErrorCode, EventStoreError } from '../errors.js';
import { encodeSegmentHeader } from './journal-format.js';
import type { JournalSegmentFile, JournalSyncPolicy, SnapshotStore } from './types.js';

/** A framed record and the partitions it changes. */
interface Entry {
  framed: Buffer;
  touched: number | readonly number[];
}

type Pending = Entry | { round: number };

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** What the journal knows about one segment file. */
interface SegmentInfo {
  /** Partitions changed by records in the file. */
  touched: Set<number>;
  /** Set once the file is closed: snapshots captured in this round or later cover its records. */
  coveredByRound: number | undefined;
  /** Records written to the file (whole writes that succeeded). */
  records: number;
}

const MAX_RETRY_DELAY_MS = 1000;

/** Journal writer. One per store; all methods run on the store's thread. */
export class Journal {
  readonly policy: JournalSyncPolicy;
  readonly #store: SnapshotStore;
  readonly #header: Buffer;
  readonly #onFailure: (err: unknown) => void;
  readonly #prepare: () => Promise<void>;
  #prepared = false;
  #pending: Pending[] = [];
  /** Records written since the last successful fsync (rewritten into a new file after a failure). */
  #unsynced: Entry[] = [];
  #recorded = 0;
  #recordedBytes = 0;
  #written = 0;
  #synced = 0;
  #file: JournalSegmentFile | undefined;
  #nextSegment: number;
  #round = 0;
  readonly #segments = new Map<number, SegmentInfo>();
  #pumping = false;
  #retryDelayMs = 0;
  #waiters: Waiter[] = [];
  #dirty = false;
  /** A background fsync is running (at most one). */
  #syncing = false;
  /** A background fsync of the current file failed while the pump ran: the pump abandons the file. */
  #syncFailure: unknown;
  #syncTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    store: SnapshotStore,
    codecName: string,
    partitions: number,
    policy: JournalSyncPolicy,
    firstSegment: number,
    onFailure: (err: unknown) => void,
    prepare: () => Promise<void>,
  ) {
    this.#store = store;
    this.policy = policy;
    this.#header = encodeSegmentHeader(codecName, partitions);
    this.#nextSegment = firstSegment;
    this.#onFailure = onFailure;
    this.#prepare = prepare;
    if (policy === 'everysec') {
      this.#syncTimer = setInterval(() => void this.#syncIfDirty(), 1000);
      this.#syncTimer.unref();
    }
  }

  /** Registers a segment left by an earlier run: closed, covered once `touched` partitions are saved. */
  adoptSegment(segment: number, touched: Iterable<number>): void {
    this.#segments.set(segment, { touched: new Set(touched), coveredByRound: this.#round + 1, records: 1 });
    if (segment >= this.#nextSegment) this.#nextSegment = segment + 1;
  }

  /** Buffers a framed record that changes `touched` partitions. Written by the pump on the next turn. */
  record(framed: Buffer, touched: number | readonly number[]): void {
    this.#pending.push({ framed, touched });
    this.#recorded++;
    this.#recordedBytes += framed.length;
    this.#schedule();
  }

  /** Bytes of every record made so far (written or still pending). */
  get recordedBytes(): number {
    return this.#recordedBytes;
  }

  /**
   * Starts a new capture round: records made from now on go to a new segment file. Snapshots captured
   * right after this call (same synchronous step) cover every record made before it. Returns the round.
   */
  rotate(): number {
    this.#round++;
    this.#pending.push({ round: this.#round });
    this.#schedule();
    return this.#round;
  }

  /** Closed segments whose every touched partition has a saved snapshot from a covering round. */
  coveredSegments(savedRound: (partition: number) => number): number[] {
    const out: number[] = [];
    for (const [segment, info] of this.#segments) {
      const round = info.coveredByRound;
      if (round === undefined) continue;
      let covered = true;
      for (const p of info.touched) {
        if (savedRound(p) < round) {
          covered = false;
          break;
        }
      }
      if (covered) out.push(segment);
    }
    return out.sort((a, b) => a - b);
  }

  /** Forgets a segment after its file was deleted. */
  forget(segment: number): void {
    this.#segments.delete(segment);
  }

  /**
   * Resolves when every record made before the call is written ('everysec', 'no') or written and
   * fsynced ('always'). Rejects with ES_ERR_JOURNAL_FAILED if that write or fsync fails.
   */
  flush(): Promise<void> {
    const target = this.#recorded;
    if (this.#done() >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
      this.#schedule();
    });
  }

  /** Writes and fsyncs what is buffered, then closes the file. */
  async close(): Promise<void> {
    await this.flush();
    if (this.#syncTimer !== undefined) clearInterval(this.#syncTimer);
    this.#closed = true;
    const file = this.#file;
    this.#file = undefined;
    if (file !== undefined) {
      try {
        this.#throwSyncFailure();
        await file.sync();
      } catch (err) {
        await file.close().catch(() => {});
        throw new EventStoreError(
          ErrorCode.JOURNAL_FAILED,
          `journal fsync failed: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      await file.close();
      const info = this.#segments.get(file.segment);
      if (info !== undefined) info.coveredByRound = this.#round + 1;
    }
  }

  #done(): number {
    return this.policy === 'always' ? this.#synced : this.#written;
  }

  #schedule(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    if (this.#retryDelayMs > 0) setTimeout(() => void this.#pump(), this.#retryDelayMs);
    else setImmediate(() => void this.#pump());
  }

  async #openFile(): Promise<JournalSegmentFile> {
    if (!this.#prepared) {
      await this.#prepare();
      this.#prepared = true;
    }
    const segment = this.#nextSegment++;
    this.#segments.set(segment, { touched: new Set(), coveredByRound: undefined, records: 0 });
    const file = await this.#store.createJournalSegment(segment, this.policy !== 'no');
    try {
      await file.append(this.#header);
    } catch (err) {
      await file.close().catch(() => {});
      await this.#dropEmpty(segment);
      throw err;
    }
    return file;
  }

  /**
   * Deletes a failed segment that holds no record (a full disk refused its header or its first
   * write): retries on a full disk must not leave one empty file each. A segment with records stays.
   */
  async #dropEmpty(segment: number): Promise<void> {
    const info = this.#segments.get(segment);
    if (info === undefined || info.records > 0) {
      this.#closeInfo(segment, this.#round + 1);
      return;
    }
    try {
      await this.#store.deleteJournalSegment(segment);
      this.#segments.delete(segment);
    } catch {
      this.#closeInfo(segment, this.#round + 1); // left for the covered-segment cleanup
    }
  }

  #closeInfo(segment: number, round: number): void {
    const info = this.#segments.get(segment);
    if (info !== undefined && info.coveredByRound === undefined) info.coveredByRound = round;
  }

  async #pump(): Promise<void> {
    let failed = false;
    try {
      while (this.#pending.length > 0 && !this.#closed && !failed) {
        const head = this.#pending[0]!;
        if ('round' in head) {
          this.#pending.shift();
          failed = !(await this.#closeCurrent(head.round));
          continue;
        }
        let end = 0;
        while (end < this.#pending.length && !('round' in this.#pending[end]!)) end++;
        const batch = this.#pending.splice(0, end) as Entry[];
        try {
          this.#file ??= await this.#openFile();
          const info = this.#segments.get(this.#file.segment)!;
          for (const e of batch) {
            if (typeof e.touched === 'number') info.touched.add(e.touched);
            else for (const p of e.touched) info.touched.add(p);
          }
          await this.#file.append(Buffer.concat(batch.map((e) => e.framed)));
          info.records += batch.length;
          // A loop, not push(...batch): a batch can hold hundreds of thousands of records (a bulk
          // load between two pump turns), more than a call's argument list takes.
          for (const e of batch) this.#unsynced.push(e);
          this.#throwSyncFailure();
          this.#written += batch.length;
          this.#dirty = true;
          if (this.policy === 'always') await this.#sync();
          else if (this.policy === 'no') this.#markSynced();
          this.#retryDelayMs = 0;
        } catch (err) {
          await this.#abandon(err, batch);
          failed = true;
        }
        this.#settle();
      }
    } finally {
      this.#pumping = false;
      this.#settle();
      if (failed) this.#retryDelayMs = Math.min(MAX_RETRY_DELAY_MS, Math.max(10, this.#retryDelayMs * 2));
      if (this.#pending.length > 0 && !this.#closed && (!failed || this.#waiters.length > 0))
        this.#schedule();
    }
  }

  /** Closes the current file for capture round `round`. Returns false if the final fsync failed. */
  async #closeCurrent(round: number): Promise<boolean> {
    const file = this.#file;
    if (file === undefined) return true;
    try {
      if (this.policy !== 'no') await this.#sync();
      this.#file = undefined;
      await file.close();
      this.#closeInfo(file.segment, round);
      return true;
    } catch (err) {
      await this.#abandon(err, []);
      return false;
    }
  }

  async #sync(): Promise<void> {
    if (this.#file === undefined) return;
    // After a failed fsync a later one may succeed without the lost pages: never trust this file again.
    this.#throwSyncFailure();
    await this.#file.sync();
    this.#throwSyncFailure();
    this.#markSynced();
  }

  #throwSyncFailure(): void {
    const err = this.#syncFailure;
    if (err === undefined) return;
    this.#syncFailure = undefined;
    throw err;
  }

  #markSynced(): void {
    this.#synced = this.#written;
    this.#unsynced = [];
    this.#dirty = false;
  }

  /** The 'everysec' fsync: runs beside the pump, so appends are not held up by it. */
  async #syncIfDirty(): Promise<void> {
    const file = this.#file;
    if (!this.#dirty || this.#syncing || file === undefined) return;
    this.#syncing = true;
    // The fsync covers what was written before it began; records written meanwhile stay unsynced.
    const written = this.#written;
    const covered = this.#unsynced.length;
    try {
      await file.sync();
      if (this.#file === file) {
        // Still the current file (not rotated or abandoned meanwhile).
        this.#synced = Math.max(this.#synced, written);
        this.#unsynced.splice(0, covered);
        this.#dirty = this.#written > this.#synced;
      }
    } catch (err) {
      if (this.#file === file) {
        if (this.#pumping) {
          this.#syncFailure = err; // the pump abandons the file after its current step
        } else {
          this.#pumping = true;
          try {
            await this.#abandon(err, []);
          } finally {
            this.#pumping = false;
            this.#settle();
            if (this.#pending.length > 0 && !this.#closed) this.#schedule();
          }
        }
      }
    } finally {
      this.#syncing = false;
    }
  }

  /**
   * A write or fsync failed: the file is dropped (never fsynced again), the records since the last
   * successful fsync go back to the front of the queue for a new file, and waiting flushes fail.
   */
  async #abandon(err: unknown, batch: Entry[]): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    this.#syncFailure = undefined;
    if (file !== undefined) {
      await file.close().catch(() => {});
      await this.#dropEmpty(file.segment);
    }
    const unsynced = new Set(this.#unsynced);
    const redo = [...this.#unsynced, ...batch.filter((e) => !unsynced.has(e))];
    this.#written = this.#synced;
    this.#unsynced = [];
    this.#dirty = false;
    this.#pending = (redo as Pending[]).concat(this.#pending);
    const error = new EventStoreError(
      ErrorCode.JOURNAL_FAILED,
      `journal write failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    this.#onFailure(err);
  }

  #settle(): void {
    if (this.#waiters.length === 0) return;
    const done = this.#done();
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (done >= w.target) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }
}
