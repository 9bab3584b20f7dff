/**
 * Bounds the load the client puts on Odoo: at most `concurrency` requests in flight, and at most
 * `ratePerSecond` requests started per second. Odoo publishes no limit, but a deployment has few
 * workers (each request holds one, and a PostgreSQL connection) and a hosted instance may answer 429.
 *
 * The rate is a token bucket of capacity 1 (requests start evenly spaced, 1/rate apart): in any
 * one-second window at most `ratePerSecond` requests start, bursts included. Waiters are served in
 * arrival order. Every request goes through here, retries and re-authentication included.
 */
import { ThreadlineError } from "../../../../contracts/src/index.js";
import { sleep } from "../../../../streams/src/index.js";

export interface LimiterOptions {
  concurrency: number;
  ratePerSecond: number;
}

/** The client's limiter was closed (shutdown): the call never started. */
export class LimiterClosedError extends ThreadlineError {
  constructor() {
    super("CONNECTOR_CLOSED", "the limiter is closed");
  }
}

export class Limiter {
  /** Slots taken (requests pacing for their start time, or running). */
  private active = 0;
  private running = 0;
  private readonly waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly intervalMs: number;
  private nextStartAt = 0;
  private closed = false;
  private readonly closing = new AbortController();

  constructor(private readonly options: LimiterOptions) {
    this.intervalMs = 1000 / options.ratePerSecond;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.running;
  }

  /** Runs `fn` once a slot and a start token are free; throws LimiterClosedError after `close()`. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      await this.pace();
      this.running++;
      try {
        return await fn();
      } finally {
        this.running--;
      }
    } finally {
      this.release();
    }
  }

  /** Refuses new work and fails the waiters; requests already running finish. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    for (const w of this.waiting.splice(0)) w.reject(new LimiterClosedError());
  }

  private acquire(): Promise<void> {
    if (this.closed) return Promise.reject(new LimiterClosedError());
    if (this.active < this.options.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter: the count stays the same.
    if (next) next.resolve();
    else this.active--;
  }

  /** Waits for this request's start time; start times are reserved in call order. */
  private async pace(): Promise<void> {
    const now = Date.now();
    const startAt = Math.max(now, this.nextStartAt);
    this.nextStartAt = startAt + this.intervalMs;
    if (startAt > now) await sleep(startAt - now, this.closing.signal);
    if (this.closed) throw new LimiterClosedError();
  }
}
