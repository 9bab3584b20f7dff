/**
 * Keeps a pinned partition durable's pin with its owner.
 *
 * nats-server gives a new pin to the first waiting pull request that carries none before it checks
 * that anyone still listens on its reply subject (consumer.go `nextWaiting`: `assignNewPinId`, then
 * `HasInterest`; only the max-bytes path gives the pin back). A request left on the server by a
 * consume that stopped without a pin (a pause, a partition given up before any message came) can so
 * take the pin and keep it, unanswered, until the priority timeout (2 min by default), while the
 * owner's own requests wait behind it. The owner — its lease says so — gives back a pin that is not
 * its own once it has seen the same one on two looks in a row: one look may race a pin just given to
 * this consumer and not yet announced to it.
 */
import type { ConsumerInfo } from "@nats-io/jetstream";
import type { Logger } from "../logger.js";
import type { PullGate } from "./pull-gate.js";

/** The priority group state consumer info carries on 2.11+ (not in nats.js's ConsumerInfo type). */
interface PriorityGroupState {
  readonly group: string;
  readonly pinned_client_id?: string;
}

export interface PinWatchDeps {
  readonly gate: PullGate;
  /** Whether this process owns the partition now (its lease is current). */
  readonly owns: () => boolean;
  /** Takes the pin of `group` away on the server. */
  readonly unpin: (group: string) => Promise<void>;
  readonly log: Logger;
}

export class PinWatch {
  readonly #d: PinWatchDeps;
  /** A pin not this consumer's, seen on the last look. */
  #foreign: string | undefined;

  constructor(deps: PinWatchDeps) {
    this.#d = deps;
  }

  /** Called with each consumer info the consumer reads. */
  note(info: ConsumerInfo): void {
    const state = (info as { priority_groups?: PriorityGroupState[] }).priority_groups?.[0];
    const pin = state?.pinned_client_id;
    if (!state || !pin || pin === this.#d.gate.pin || !this.#d.owns()) {
      this.#foreign = undefined;
      return;
    }
    if (this.#foreign !== pin) {
      this.#foreign = pin;
      return;
    }
    this.#foreign = undefined;
    this.#d.unpin(state.group).then(
      () =>
        this.#d.log.warn(
          { group: state.group },
          "the partition durable was pinned to a pull request that is not this owner's (left by a consume that stopped); unpinned it",
        ),
      (err: unknown) =>
        this.#d.log.warn({ err, group: state.group }, "could not unpin a pin that is not this owner's"),
    );
  }
}
