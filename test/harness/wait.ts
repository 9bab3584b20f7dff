/** Polling for tests: wait until something holds, or fail naming what was awaited. */
import assert from "node:assert/strict";

export interface WaitOptions {
  /** @default 30000 */
  timeoutMs?: number;
  /** @default 25 */
  intervalMs?: number;
  /** Extra context for the failure message (e.g. what was seen so far). */
  detail?: () => string;
}

/**
 * Calls `probe` until it returns something other than `undefined` or `false`, and returns that.
 * Fails the test with "timed out waiting for <what>" after `timeoutMs`.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      const detail = options.detail?.();
      assert.fail(`timed out waiting for ${what}${detail ? `; ${detail}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}
