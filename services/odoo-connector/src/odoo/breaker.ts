/**
 * The circuit breaker in front of Odoo: after `failureThreshold` consecutive calls failed for a
 * transient reason (after their retries), it opens and calls are refused at once, so consumers stop
 * pulling instead of piling retries on a server that is down. After `openMs` it half-opens on its own
 * (listeners hear it, so a paused consumer can resume) and lets one probe call through: success
 * closes it, a transient failure opens it again for another `openMs`.
 *
 * Any answer from Odoo that is not a transient failure — a ValidationError, an access error — proves
 * the server is up and counts as a success here.
 */
export type BreakerState = "closed" | "open" | "half-open";

export type BreakerListener = (state: BreakerState, previous: BreakerState) => void;

export interface BreakerOptions {
  /** Consecutive transient failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before letting a probe through. */
  openMs: number;
}

/** What `admit()` grants: a normal call, the half-open probe, or nothing (refuse the call). */
export type Admission = "call" | "probe" | false;

export class CircuitBreaker {
  private current: BreakerState = "closed";
  private failures = 0;
  private probing = false;
  private openedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<BreakerListener>();

  constructor(private readonly options: BreakerOptions) {}

  get state(): BreakerState {
    return this.current;
  }

  /** Consecutive transient failures counted so far (0 once a call succeeds). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Milliseconds until an open breaker half-opens (0 when not open). */
  get retryInMs(): number {
    return this.current === "open" ? Math.max(0, this.openedAt + this.options.openMs - Date.now()) : 0;
  }

  /** Listens to state changes; returns the function that stops listening. */
  onChange(listener: BreakerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether a call may go to Odoo now. A "probe" must be followed by `record(…, true)`. */
  admit(): Admission {
    if (this.current === "closed") return "call";
    if (this.current === "half-open" && !this.probing) {
      this.probing = true;
      return "probe";
    }
    return false;
  }

  /** The outcome of an admitted call: `transientFailure` true when it failed for a transient reason. */
  record(transientFailure: boolean, probe = false): void {
    if (probe) this.probing = false;
    if (!transientFailure) {
      this.failures = 0;
      if (this.current === "half-open" && probe) this.transition("closed");
      return;
    }
    if (this.current === "closed") {
      this.failures++;
      if (this.failures >= this.options.failureThreshold) this.open();
    } else if (this.current === "half-open" && probe) this.open();
  }

  /** Releases a probe whose call ended without an answer either way (the client closed). */
  abandon(probe: boolean): void {
    if (probe) this.probing = false;
  }

  /** Stops the half-open timer (the client closed). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private open(): void {
    this.openedAt = Date.now();
    this.transition("open");
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.current === "open") this.transition("half-open");
    }, this.options.openMs);
    this.timer.unref();
  }

  private transition(next: BreakerState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    if (next === "closed") this.failures = 0;
    for (const listener of [...this.listeners]) {
      try {
        listener(next, previous);
      } catch {
        // A listener's failure is its own; the breaker carries on.
      }
    }
  }
}
