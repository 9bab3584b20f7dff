/**
 * The messages the consumer holds, from arrival to their final ack / nak / term, and which of them
 * runs next: at most `concurrency` at once, in arrival order; in ordered mode one at a time per key (its
 * lane), in stream-sequence order, the key blocked while its head waits for an in-place retry. Later
 * messages of a blocked key stay held and count against `maxBuffered` like any other.
 */
import type { JsMsg } from "@nats-io/jetstream";

/** One delivery of a message; `incarnation` tells deliveries of a deleted-and-recreated durable apart. */
export interface Delivery {
  readonly msg: JsMsg;
  readonly incarnation: number;
}

/** A message held in memory, from arrival to its final ack / nak / term. */
export interface Entry {
  readonly seq: number;
  /** Every delivery of this stream sequence we hold (a redelivery can arrive while we hold the first). */
  readonly deliveries: Delivery[];
  /** Lane key in ordered mode. */
  readonly lane: string | undefined;
  status: "queued" | "running" | "waiting" | "done";
  /** Last time its ack deadline was reset (delivery or +WPI). */
  touchedAt: number;
  localRetries: number;
  timer?: NodeJS.Timeout;
  /** The running attempt's `ctx.signal`, made on first use (most handlers never look at it). */
  abort?: AbortController;
  /** Set when the running attempt is aborted (shutdown deadline, failure). */
  abortReason?: unknown;
}

/** The entry's latest delivery: the one a handler sees and a dead letter copies. */
export function latestMsg(e: Entry): JsMsg {
  return (e.deliveries[e.deliveries.length - 1] as Delivery).msg;
}

/** A FIFO with O(1) push/shift. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

export class KeyScheduler {
  readonly #concurrency: number;
  readonly #held = new Map<number, Entry>();
  #heldCount = 0;
  /** Entries that may be ready to run; one that is not (running, done, not its lane's head) is skipped. */
  readonly #ready = new Fifo<Entry>();
  /** Ordered mode: the held entries of each key, in stream order, the head first. */
  readonly #lanes = new Map<string, Entry[]>();
  #running = 0;
  #peakRunning = 0;

  constructor(concurrency: number) {
    this.#concurrency = concurrency;
  }

  /** Deliveries held: queued, running, waiting behind their key or for a retry; redeliveries count too. */
  get held(): number {
    return this.#heldCount;
  }

  /** Distinct messages held (a redelivery of a held one is not another). */
  get messages(): number {
    return this.#held.size;
  }

  /** Entries running a handler now (≤ concurrency). */
  get running(): number {
    return this.#running;
  }

  get peakRunning(): number {
    return this.#peakRunning;
  }

  get(seq: number): Entry | undefined {
    return this.#held.get(seq);
  }

  has(seq: number): boolean {
    return this.#held.has(seq);
  }

  /** The held entries, live (copy it before settling while iterating). */
  entries(): IterableIterator<Entry> {
    return this.#held.values();
  }

  /** A redelivery of a held message: kept, and settled together with the first. */
  addDelivery(e: Entry, delivery: Delivery): void {
    e.deliveries.push(delivery);
    this.#heldCount++;
  }

  /** A new entry: held, and queued behind its key (in stream order) or ready at once. */
  hold(entry: Entry): void {
    const { seq, lane } = entry;
    this.#held.set(seq, entry);
    this.#heldCount++;
    if (lane === undefined) this.#ready.push(entry);
    else {
      const queue = this.#lanes.get(lane);
      if (!queue) {
        this.#lanes.set(lane, [entry]);
        this.#ready.push(entry);
      } else {
        // In stream order; never ahead of a head that already started.
        let i = queue.length;
        const floor = queue[0]?.status === "queued" ? 0 : 1;
        while (i > floor && (queue[i - 1] as Entry).seq > seq) i--;
        queue.splice(i, 0, entry);
        if (i === 0) this.#ready.push(entry); // the old head stays in #ready but is skipped (not the head)
      }
    }
  }

  /** The next entry to run, marked running, while fewer than `concurrency` run; undefined otherwise. */
  start(): Entry | undefined {
    if (this.#running >= this.#concurrency) return undefined;
    const e = this.#nextReady();
    if (!e) return undefined;
    e.status = "running";
    this.#running++;
    this.#peakRunning = Math.max(this.#peakRunning, this.#running);
    return e;
  }

  /** A started entry's handler (and its outcome) finished. */
  finished(): void {
    this.#running--;
  }

  /**
   * Retry in place (ordered mode): the entry stays held and its key blocked, and is queued again after
   * `delayMs`; `onReady` runs then (unless it was settled meanwhile).
   */
  retryLater(e: Entry, delayMs: number, onReady: () => void): void {
    e.localRetries++;
    e.status = "waiting";
    e.timer = setTimeout(() => {
      if (e.status !== "waiting") return;
      e.status = "queued";
      this.#ready.push(e);
      onReady();
    }, delayMs);
  }

  /** The entry is settled: it frees its slots, and the next entry of its key becomes ready. */
  release(e: Entry): void {
    e.status = "done";
    if (e.timer) clearTimeout(e.timer);
    this.#held.delete(e.seq);
    this.#heldCount -= e.deliveries.length;
    if (e.lane !== undefined) {
      const queue = this.#lanes.get(e.lane);
      if (queue) {
        const i = queue.indexOf(e);
        if (i >= 0) queue.splice(i, 1);
        const head = queue[0];
        if (!head) this.#lanes.delete(e.lane);
        else if (i === 0 && head.status === "queued") this.#ready.push(head);
      }
    }
  }

  #nextReady(): Entry | undefined {
    for (;;) {
      const e = this.#ready.shift();
      if (!e) return undefined;
      if (e.status !== "queued") continue;
      if (e.lane !== undefined && this.#lanes.get(e.lane)?.[0] !== e) continue;
      return e;
    }
  }
}
