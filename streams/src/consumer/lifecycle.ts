/**
 * The consumer's lifecycle as a state machine: created → running ⇄ paused → stopping → draining →
 * stopped, or failed from any state that is not final. A move the table does not allow throws
 * IllegalStateError; every move is logged, published on `status()` and reflected in the paused gauge.
 */
import type { Logger } from "../logger.js";
import { IllegalStateError } from "./errors.js";
import type { ConsumerMeter } from "./meter.js";
import type { Notifier } from "./notifier.js";
import type { ConsumerState, ConsumerStatus } from "./types.js";

const TRANSITIONS: Readonly<Record<ConsumerState, readonly ConsumerState[]>> = {
  created: ["running", "stopped", "failed"],
  running: ["paused", "stopping", "failed"],
  paused: ["running", "stopping", "failed"],
  stopping: ["draining", "failed"],
  draining: ["stopped", "failed"],
  stopped: [],
  failed: [],
};

export class Lifecycle {
  readonly #log: Logger;
  readonly #notifier: Notifier<ConsumerStatus>;
  readonly #meter: ConsumerMeter;
  #state: ConsumerState = "created";

  constructor(log: Logger, notifier: Notifier<ConsumerStatus>, meter: ConsumerMeter) {
    this.#log = log;
    this.#notifier = notifier;
    this.#meter = meter;
  }

  get state(): ConsumerState {
    return this.#state;
  }

  /** Running or paused: the pull loop goes on (a paused consumer keeps its session state). */
  get pulling(): boolean {
    return this.#state === "running" || this.#state === "paused";
  }

  /** Stopped or failed: nothing happens any more. */
  get ended(): boolean {
    return this.#state === "stopped" || this.#state === "failed";
  }

  /** @param level of the transition's log line. @default "error" into failed, else "info" */
  move(to: ConsumerState, detail?: Record<string, unknown>, level?: "info" | "warn" | "error"): void {
    const from = this.#state;
    if (!TRANSITIONS[from].includes(to)) throw new IllegalStateError(`move to ${to}`, from);
    this.#state = to;
    this.#meter.paused(to === "paused");
    level ??= to === "failed" ? "error" : "info";
    this.#log[level]({ from, to, ...detail }, `consumer ${from} -> ${to}`);
    this.#notifier.push({ type: "state", from, to });
  }
}
