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
