/**
 * Lets postings through the client's circuit breaker without wasting deliveries: while it is open,
 * or half-open with a probe under way (whoever's it is: a posting, the inbound sync, the
 * reconciliation), a posting waits for the breaker's next change; half-open with no probe, postings
 * go through and the first call takes the probe. A posting refused half-way waits for the next
 * change before it starts again (postings are resumable) — never at once: a refusal answered by an
 * immediate retry is a loop that never yields, and the probe's answer would never be read.
 */
import { RetryableError } from "../../../../streams/src/index.js";
import type { CircuitBreaker } from "../odoo/index.js";
import { isCircuitOpen, isTransientOdooError, OutboundErrorCode } from "./errors.js";

export class BreakerGate {
  private readonly closing = new AbortController();

  constructor(
    private readonly breaker: CircuitBreaker,
    private readonly pollMs: number,
  ) {}

  close(): void {
    this.closing.abort();
  }

  async run<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const stop = AbortSignal.any([signal, this.closing.signal]);
    for (;;) {
      await this.admitted(stop);
      try {
        return await fn();
      } catch (err) {
        if (stop.aborted) throw err;
        // Refused by the breaker, or failed for a transient reason and the breaker is no longer
        // closed (this failure may have opened it): wait for Odoo instead of using up a delivery.
        const waitForOdoo =
          isCircuitOpen(err) || (isTransientOdooError(err) && this.breaker.state !== "closed");
        if (!waitForOdoo) throw err;
      }
      await this.breaker.changed({ signal: stop, timeoutMs: this.pollMs });
    }
  }

  private async admitted(stop: AbortSignal): Promise<void> {
    for (;;) {
      if (stop.aborted)
        throw new RetryableError(
          OutboundErrorCode.CircuitOpen,
          "stopped while waiting for Odoo's circuit breaker",
        );
      const state = this.breaker.state;
      if (state === "closed" || (state === "half-open" && !this.breaker.probing)) return;
      await this.breaker.changed({
        signal: stop,
        timeoutMs: Math.max(10, Math.min(this.pollMs, this.breaker.retryInMs || this.pollMs)),
      });
    }
  }
}
