/**
 * What the console pushes to open pages: a line per event as the streams store it (its stream,
 * sequence, type, business key and time — headers only, no payload), so a page refreshes what it shows
 * when something it shows changed. One follower per stream (the machine stream: only its status, state
 * and downtime events, never telemetry), shared by every page; a follower that ends or fails starts
 * again after the last sequence it saw, and a page never waits on a slow one.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { CE, type Logger, readMessages, sleep } from "../../../../streams/src/index.js";

export interface LiveEvent {
  readonly stream: string;
  readonly seq: number;
  readonly type: string | null;
  readonly key: string | null;
  readonly subject: string;
  readonly storedAt: string;
}

/** The streams and filters the feed follows. */
export const FOLLOWED: readonly { stream: string; filter: string }[] = [
  { stream: "MFG_PRODUCTION", filter: "mfg.production.>" },
  { stream: "MFG_QUALITY", filter: "mfg.quality.>" },
  { stream: "MFG_INVENTORY", filter: "mfg.inventory.>" },
  { stream: "MFG_SHIPPING", filter: "mfg.shipping.>" },
  { stream: "MFG_DLQ", filter: "mfg.dlq.>" },
  { stream: "MFG_MACHINE", filter: "mfg.machine.connector_status_changed.>" },
  { stream: "MFG_MACHINE", filter: "mfg.machine.machine_state_changed.>" },
  { stream: "MFG_MACHINE", filter: "mfg.machine.downtime_started.>" },
  { stream: "MFG_MACHINE", filter: "mfg.machine.downtime_ended.>" },
];

const RESTART_MS = 2_000;

export class LiveFeed {
  readonly #listeners = new Set<(e: LiveEvent) => void>();
  /** What ends each open page's stream: a stop must not wait for the pages to go away. */
  readonly #enders = new Set<() => void>();
  readonly #abort = new AbortController();
  readonly #done: Promise<void>[] = [];

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  start(): void {
    const since = new Date();
    for (const f of FOLLOWED) this.#done.push(this.#follow(f.stream, f.filter, since));
  }

  /**
   * Calls `fn` with every new event until the returned function is called; `end` is called when the
   * feed stops (the console shuts down), to close the page's stream.
   */
  subscribe(fn: (e: LiveEvent) => void, end: () => void = () => undefined): () => void {
    this.#listeners.add(fn);
    this.#enders.add(end);
    return () => {
      this.#listeners.delete(fn);
      this.#enders.delete(end);
    };
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#listeners.clear();
    for (const end of [...this.#enders]) end();
    this.#enders.clear();
    await Promise.allSettled(this.#done);
  }

  async #follow(stream: string, filter: string, since: Date): Promise<void> {
    let next: number | undefined;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        for await (const m of readMessages(this.nc, {
          stream,
          filter,
          ...(next === undefined ? { since } : { fromSequence: next }),
          headersOnly: true,
          follow: signal,
          cleanup: "expire",
          ifMissing: "empty",
        })) {
          next = m.seq + 1;
          const event: LiveEvent = {
            stream,
            seq: m.seq,
            type: m.headers?.get(CE.type) || null,
            key: m.headers?.get(CE.subject) || null,
            subject: m.subject,
            storedAt: new Date(Number(m.timestampNanos / 1_000_000n)).toISOString(),
          };
          for (const fn of this.#listeners) fn(event);
        }
      } catch (err) {
        if (signal.aborted) return;
        this.logger.warn({ err, stream, filter }, "live feed: a follower failed; starting it again");
      }
      if (!signal.aborted) await sleep(RESTART_MS, signal).catch(() => undefined);
    }
  }
}
