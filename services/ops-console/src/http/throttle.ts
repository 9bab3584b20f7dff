/**
 * Slows a password guesser down: after {@link MAX_FAILURES} failed sign-ins for one name from one
 * address within the window, that pair waits out the rest of the window. In memory, per replica: enough
 * to make guessing slow; the log line of each failure is what an alert watches.
 */
export const MAX_FAILURES = 5;
export const WINDOW_MS = 5 * 60_000;

export class SignInThrottle {
  readonly #failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** How long the key must still wait, in ms; 0 when it may try. */
  blockedFor(key: string): number {
    const recent = this.#recent(key);
    return recent.length >= MAX_FAILURES ? recent[0]! + WINDOW_MS - this.now() : 0;
  }

  failed(key: string): void {
    const recent = this.#recent(key);
    recent.push(this.now());
    this.#failures.set(key, recent);
    if (this.#failures.size > 10_000) this.#failures.delete(this.#failures.keys().next().value!);
  }

  succeeded(key: string): void {
    this.#failures.delete(key);
  }

  #recent(key: string): number[] {
    const since = this.now() - WINDOW_MS;
    return (this.#failures.get(key) ?? []).filter((t) => t > since);
  }
}

/** OIDC sign-ins one address may start a minute, and all addresses together. */
export const STARTS_PER_ADDRESS = 20;
export const STARTS_IN_ALL = 600;

/** Counts sign-ins started per minute (fixed windows), per address and in all. */
export class StartLimit {
  #window = 0;
  #all = 0;
  readonly #byAddress = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** 0 when one more may start (it is counted), else how long to wait, in ms. */
  take(address: string): number {
    const now = this.now();
    const window = Math.floor(now / 60_000);
    if (window !== this.#window) {
      this.#window = window;
      this.#all = 0;
      this.#byAddress.clear();
    }
    const mine = this.#byAddress.get(address) ?? 0;
    if (mine >= STARTS_PER_ADDRESS || this.#all >= STARTS_IN_ALL) return (window + 1) * 60_000 - now;
    this.#byAddress.set(address, mine + 1);
    this.#all++;
    return 0;
  }
}
