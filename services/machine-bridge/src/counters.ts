/**
 * Production counters as PLCs keep them: monotonic, wrapping to 0 after `max`, and sometimes reset
 * to 0 by an operator or a PLC download. The quantity between two readings is the difference,
 * unless the counter went down: then it either wrapped (a short distance past `max`) or restarted
 * from 0 (the new value is what was produced since).
 */

export interface CounterSpec {
  /** Largest value; the next count wraps to 0. */
  readonly max: bigint;
  /** A decrease whose wrapped distance is at most this fraction of the range is a rollover. */
  readonly rolloverWindow: number;
}

export type CounterChange = "increase" | "unchanged" | "rollover" | "reset";

export interface CounterDelta {
  readonly quantity: bigint;
  readonly change: CounterChange;
}

/** The quantity produced between two readings of one counter. */
export function counterDelta(from: bigint, to: bigint, spec: CounterSpec): CounterDelta {
  if (to === from) return { quantity: 0n, change: "unchanged" };
  if (to > from) return { quantity: to - from, change: "increase" };
  const range = spec.max + 1n;
  const wrapped = spec.max - from + 1n + to;
  // The window as a bigint fraction of the range: exact for UInt64 ranges too.
  const window = (range * BigInt(Math.round(spec.rolloverWindow * 1_000_000))) / 1_000_000n;
  if (from <= spec.max && wrapped <= window) return { quantity: wrapped, change: "rollover" };
  return { quantity: to, change: "reset" };
}
