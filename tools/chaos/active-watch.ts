/**
 * Watches an active/standby service (the quality service: one replica works under its lease, the
 * others answer /readyz 503 "standby") through the run: every `intervalMs` the replicas that are up
 * are asked at once, and a round in which two answered ready is a split brain a user would notice
 * (two replicas deciding holds). Rounds without an active are the take-overs, within the lease's ttl.
 */
import type { ServiceReplicas } from "./replicas.js";

export interface ActiveWatchResult {
  readonly rounds: number;
  /** Rounds in which exactly one replica was ready. */
  readonly oneActive: number;
  /** Rounds in which none was (a take-over under way, or NATS unreachable). */
  readonly noActive: number;
  /** Rounds in which two or more were, with when (ms since the watch started). */
  readonly twoActive: readonly number[];
}

export class ActiveWatch {
  #running = true;
  readonly #loop: Promise<ActiveWatchResult>;

  constructor(service: ServiceReplicas, intervalMs = 500) {
    const started = Date.now();
    this.#loop = (async () => {
      let [rounds, oneActive, noActive] = [0, 0, 0];
      const twoActive: number[] = [];
      while (this.#running) {
        const ready = await service.readyCount();
        rounds++;
        if (ready === 1) oneActive++;
        else if (ready === 0) noActive++;
        else twoActive.push(Date.now() - started);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
      return { rounds, oneActive, noActive, twoActive };
    })();
  }

  async stop(): Promise<ActiveWatchResult> {
    this.#running = false;
    return this.#loop;
  }
}
