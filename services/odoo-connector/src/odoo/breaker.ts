/**
 * The circuit breaker in front of Odoo: after `failureThreshold` consecutive calls failed for a
 * transient reason (after their retries), it opens and calls are refused at once, so consumers stop
 * pulling instead of piling retries on a server that is down. After `openMs` it half-opens on its own
 * (listeners hear it, so a paused consumer can resume) and lets one probe call through: success
 * closes it, a transient failure opens it again for twice as long, up to `maxOpenMs` — a short
 * outage is over seconds after Odoo's return, a long one costs Odoo one call per `maxOpenMs`.
 *
 * Any answer from Odoo that is not a transient failure — a ValidationError, an access error — proves
 * the server is up and counts as a success here.
 *
 * A caller the breaker refuses must not ask again at once: `changed()` resolves at the next state
 * change or when the probe under way ends, so every waiting loop is woken by an event (or its own
 * deadline), never by polling the breaker in a tight loop — a loop of refusals that never yields
 * would also keep the event loop from reading the probe's answer, and the breaker would never close.
 */
export type BreakerState = "closed" | "open" | "half-open";

export type BreakerListener = (state: BreakerState, previous: BreakerState) => void;

export interface BreakerOptions {
  /** Consecutive transient failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before the first probe; doubled after each failed probe. */
  openMs: number;
  /** The longest it stays open between probes. @default openMs (no doubling) */
  maxOpenMs?: number;
}

/** What `admit()` grants: a normal call, the half-open probe, or nothing (refuse the call). */
export type Admission = "call" | "probe" | false;

export class CircuitBreaker {
  private current: BreakerState = "closed";
  private failures = 0;
  private probeUnderWay = false;
  private openedAt = 0;
  /** The current open window: openMs, doubled by each failed probe up to maxOpenMs. */
  private windowMs: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<BreakerListener>();
  /** Callers of `changed()` waiting for the next state change or the end of the probe. */
  private readonly waiters = new Set<() => void>();

  constructor(private readonly options: BreakerOptions) {
    this.windowMs = options.openMs;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Consecutive transient failures counted so far (0 once a call succeeds). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Milliseconds until an open breaker half-opens (0 when not open). */
  get retryInMs(): number {
    return this.current === "open" ? Math.max(0, this.openedAt + this.windowMs - Date.now()) : 0;
  }

  /** Whether the half-open probe call is under way (other calls are refused until it ends). */
  get probing(): boolean {
    return this.probeUnderWay;
  }

  /**
   * Resolves at the next state change or when the probe under way ends — or after `timeoutMs`, or
   * when `signal` aborts, whichever comes first. Never rejects.
   */
  changed(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.add(done);
      const timer = timeoutMs !== undefined ? setTimeout(done, Math.max(1, timeoutMs)) : undefined;
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Listens to state changes; returns the function that stops listening. */
  onChange(listener: BreakerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Whether a call may go to Odoo now. A "probe" must be followed by `record(…, true)`. */
  admit(): Admission {
    if (this.current === "closed") return "call";
    if (this.current === "half-open" && !this.probeUnderWay) {
      this.probeUnderWay = true;
      return "probe";
    }
    return false;
  }

  /** The outcome of an admitted call: `transientFailure` true when it failed for a transient reason. */
  record(transientFailure: boolean, probe = false): void {
    if (!transientFailure) {
      this.failures = 0;
      if (this.current === "half-open" && probe) this.transition("closed");
    } else if (this.current === "closed") {
      this.failures++;
      if (this.failures >= this.options.failureThreshold) this.open();
    } else if (this.current === "half-open" && probe) {
      this.windowMs = Math.min(this.windowMs * 2, this.options.maxOpenMs ?? this.options.openMs);
      this.open();
    }
    if (probe) this.endProbe();
  }

  /** Releases a probe whose call ended without an answer either way (the client closed). */
  abandon(probe: boolean): void {
    if (probe) this.endProbe();
  }

  /** Stops the half-open timer and wakes every waiter (the client closed). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
    this.wake();
  }

  private endProbe(): void {
    if (!this.probeUnderWay) return;
    this.probeUnderWay = false;
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private open(): void {
    this.openedAt = Date.now();
    this.transition("open");
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.current === "open") this.transition("half-open");
    }, this.windowMs);
    this.timer.unref();
  }

  private transition(next: BreakerState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    if (next === "closed") {
      this.failures = 0;
      this.windowMs = this.options.openMs;
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(next, previous);
      } catch {
        // A listener's failure is its own; the breaker carries on.
      }
    }
    this.wake();
  }
}
