/** `status()` of the consumer: a fan-out of notifications to any number of async iterators. */

/** A fan-out of notifications to any number of async iterators; each keeps the latest 256. */
export class Notifier<T> {
  readonly #listeners = new Set<{ queue: T[]; wake?: () => void }>();
  #ended = false;

  push(n: T): void {
    for (const l of this.#listeners) {
      l.queue.push(n);
      if (l.queue.length > 256) l.queue.shift();
      l.wake?.();
    }
  }

  end(): void {
    this.#ended = true;
    for (const l of this.#listeners) l.wake?.();
  }

  async *iterate(): AsyncGenerator<T> {
    const l: { queue: T[]; wake?: () => void } = { queue: [] };
    this.#listeners.add(l);
    try {
      for (;;) {
        const next = l.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((resolve) => {
          l.wake = resolve;
        });
        l.wake = undefined;
      }
    } finally {
      this.#listeners.delete(l);
    }
  }
}
