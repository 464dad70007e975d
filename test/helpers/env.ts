// Integer knobs of tests and benchmarks from the environment (LFES_… variables).

/** The integer in the environment variable `name`; undefined when unset or empty; throws on anything else. */
export function envInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, received ${JSON.stringify(raw)}`);
  return n;
}
