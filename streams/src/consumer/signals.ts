/** Graceful shutdown on SIGTERM / SIGINT for anything with a `stop()`: consumers, HTTP servers... */
import { type Logger, silentLogger } from "../logger.js";

/** Anything with a graceful stop (consumers, servers, ...). */
export interface Stoppable {
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export interface HandleSignalsOptions {
  /** @default ["SIGTERM", "SIGINT"] */
  signals?: readonly NodeJS.Signals[];
  /** Drain deadline passed to every `stop()`. @default each target's own default */
  timeoutMs?: number;
  /** Runs after every target stopped, e.g. `() => nc.drain()`. @default nothing */
  beforeExit?: () => Promise<void>;
  /** @default process.exit */
  exit?: (code: number) => void;
  /** @default a silent logger */
  logger?: Logger;
  /**
   * Exit with 1 when the stop has not finished this long after the signal, whatever is still running
   * (streams/src/shutdown.ts: the one deadline the pod's grace period is sized for). @default none
   */
  deadlineMs?: number;
}

/**
 * On the first signal: stops every target in parallel (graceful drain), runs `beforeExit`, exits 0 (1 if
 * anything failed). A second signal exits at once with 130. Returns a function that removes the handlers.
 */
export function handleSignals(
  targets: Stoppable | readonly Stoppable[],
  options: HandleSignalsOptions = {},
): () => void {
  const list = Array.isArray(targets) ? (targets as readonly Stoppable[]) : [targets as Stoppable];
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.logger ?? silentLogger;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting without waiting");
      exit(130);
      return;
    }
    stopping = true;
    log.info({ signal, deadlineMs: options.deadlineMs }, "signal received: draining");
    if (options.deadlineMs !== undefined) {
      const deadlineMs = options.deadlineMs;
      setTimeout(() => {
        log.error({ signal, deadlineMs }, "shutdown deadline passed: exiting with the stop unfinished");
        exit(1);
      }, deadlineMs).unref();
    }
    const stopOptions = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
    void Promise.allSettled(list.map((t) => t.stop(stopOptions)))
      .then(async (results) => {
        const failed = results.filter((r) => r.status === "rejected");
        for (const f of failed) log.error({ err: (f as PromiseRejectedResult).reason }, "stop failed");
        try {
          await options.beforeExit?.();
        } catch (err) {
          log.error({ err }, "beforeExit failed");
          failed.push({ status: "rejected", reason: err });
        }
        log.info({ signal, failed: failed.length }, "drained: exiting");
        exit(failed.length > 0 ? 1 : 0);
      })
      .catch(() => exit(1));
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
