/**
 * handleSignals: a signal drains every target and exits 0; a stop that outlives the one shutdown
 * deadline (streams/src/shutdown.ts) exits 1 anyway, so the pod's grace period, sized from the same
 * deadline, never ends in a SIGKILL of a service still deciding what to do.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { handleSignals } from "../../streams/src/consumer.js";
import { shutdownDeadlineMs } from "../../streams/src/shutdown.js";

/** Sends SIGUSR2 (a signal no test runner uses) to this process and waits for `exit` to be called. */
async function signalAndWait(
  targets: Parameters<typeof handleSignals>[0],
  deadlineMs?: number,
): Promise<number> {
  let remove = () => {};
  const code = await new Promise<number>((resolve) => {
    remove = handleSignals(targets, {
      signals: ["SIGUSR2"],
      exit: resolve,
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
    });
    process.kill(process.pid, "SIGUSR2");
  });
  remove();
  return code;
}

test("a signal stops every target and exits 0 once they have", async () => {
  const stopped: string[] = [];
  const code = await signalAndWait(
    [{ stop: async () => void stopped.push("consumer") }, { stop: async () => void stopped.push("http") }],
    1_000,
  );
  assert.equal(code, 0);
  assert.deepEqual(stopped.sort(), ["consumer", "http"]);
});

test("a stop that outlives the deadline: the process exits 1 at the deadline instead of hanging", async () => {
  const started = Date.now();
  const code = await signalAndWait({ stop: () => new Promise<void>(() => {}) }, 200);
  assert.equal(code, 1);
  assert.ok(Date.now() - started >= 190, "not before the deadline");
});

test("the deadline is the drain plus the time after it, for any drain timeout", () => {
  assert.equal(shutdownDeadlineMs(), 40_000);
  assert.equal(shutdownDeadlineMs(60_000), 75_000);
});
