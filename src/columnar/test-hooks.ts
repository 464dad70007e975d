// The seam through which tests reach inside a ColumnarEventStore instance: the symbol under which a
// test installs its hooks (ColumnarTestHooks: noise, and a write-protocol variant built in place of
// BatchWriter) and the named noise points, where a test injects delays or a simulated crash. Never
// installed in production: each noise point then costs one `undefined` check per batch or chunk read.

/** Symbol under which a test installs {@link ColumnarTestHooks} on one instance. Not exported from the package. */
export const TEST_HOOKS = Symbol('lockfree-eventstore.columnar.testHooks');

/** Named points where a test can inject delays (never called unless hooks are installed). */
export const NoisePoint = {
  /** Between the load and the store of a deliberately non-atomic claim (a broken test variant). */
  CLAIM_RACE: 0,
  /** After the claim, before gating and marking. */
  CLAIMED: 1,
  /** After the columns are written, before the publishing CAS. */
  WRITTEN: 2,
  /** Reader: after reading part of a row, before the rest. */
  READ_ROW: 3,
  /** Reader: after reading a chunk, before validating it against CLAIM. */
  READ_CHUNK: 4,
} as const;

/** A test's delay (or crash) at a {@link NoisePoint}. */
export type Noise = (point: number) => void;
