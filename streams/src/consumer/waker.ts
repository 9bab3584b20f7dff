/**
 * Wake-ups inside the consumer: the pull loop and the drain wait for "something changed" (a slot
 * freed, a state change, a reconnect, a session ended) rather than polling, with a timeout as a safety
 * net against a missed wake-up.
 */
export class Waker {
  readonly #waiters = new Set<() => void>();

  /** Resolves every pending wait with true. */
  wake(): void {
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves true on the next wake(), false after `ms` (also a safety net against a missed wake-up). */
  waitForChange(ms = 1_000): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve(woken);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), Math.max(1, ms));
      this.#waiters.add(wake);
    });
  }
}
