/**
 * Work deferred to the end of the event-loop turn: handlers finish in different microtasks of one
 * turn, and what they each would do (a socket write, a metric update) is done once for all of them.
 */

/** Runs `fn` once at the end of the current event-loop turn, however often it is asked for during it. */
export class EndOfTurn {
  #scheduled = false;
  readonly #run: () => void;

  constructor(fn: () => void) {
    this.#run = () => {
      this.#scheduled = false;
      fn();
    };
  }

  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }
}
