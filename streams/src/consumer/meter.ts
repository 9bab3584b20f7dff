/**
 * The consumer's metrics (docs/metrics.md), labelled with its stream and durable: one method per thing
 * measured, so the rest of the consumer does not handle label sets.
 */
import type { ConsumerInfo } from "@nats-io/jetstream";
import type { ThreadlineMetrics } from "../metrics.js";
import { EndOfTurn } from "./end-of-turn.js";
import type { ConsumerOutcome } from "./types.js";

type Labels = Readonly<Record<string, string>>;

/**
 * Metric label sets made once per event type (and outcome) rather than once per message. Event
 * types come from message headers, so past a bound new ones are not remembered.
 */
class LabelSets {
  static readonly maxTypes = 1_000;
  readonly #byType = new Map<string, { type: Labels; outcomes: Map<string, Labels> }>();
  constructor(readonly base: Labels) {}

  type(eventType: string): Labels {
    return this.#entry(eventType).type;
  }

  outcome(eventType: string, outcome: ConsumerOutcome): Labels {
    const entry = this.#entry(eventType);
    let labels = entry.outcomes.get(outcome);
    if (!labels) {
      labels = { ...entry.type, outcome };
      entry.outcomes.set(outcome, labels);
    }
    return labels;
  }

  #entry(eventType: string): { type: Labels; outcomes: Map<string, Labels> } {
    let entry = this.#byType.get(eventType);
    if (!entry) {
      entry = { type: { ...this.base, event_type: eventType }, outcomes: new Map() };
      if (this.#byType.size < LabelSets.maxTypes) this.#byType.set(eventType, entry);
    }
    return entry;
  }
}

export class ConsumerMeter {
  readonly #m: ThreadlineMetrics;
  readonly #labels: { stream: string; consumer: string };
  readonly #sets: LabelSets;
  /** `threadline_events_consumed_total` counts not added yet: added once per event-loop turn. */
  readonly #outcomes = new Map<Labels, number>();
  readonly #endOfTurn = new EndOfTurn(() => this.flush());
  readonly #flush = () => this.flush();

  constructor(metrics: ThreadlineMetrics, stream: string, durable: string) {
    this.#m = metrics;
    this.#labels = { stream, consumer: durable };
    this.#sets = new LabelSets(this.#labels);
  }

  /** `threadline_consumer_paused`: 1 while paused. */
  paused(paused: boolean): void {
    this.#m.paused.set(this.#labels, paused ? 1 : 0);
  }

  /** `threadline_consumer_pending` and `_ack_pending`, from the durable's info. */
  backlog(info: ConsumerInfo): void {
    this.#m.pending.set(this.#labels, info.num_pending);
    this.#m.ackPending.set(this.#labels, info.num_ack_pending);
  }

  inFlight(running: number): void {
    this.#m.inFlight.set(this.#labels, running);
  }

  redelivered(): void {
    this.#m.redeliveries.inc(this.#labels);
  }

  handlerDuration(eventType: string, seconds: number): void {
    this.#m.handlerDuration.observe(this.#sets.type(eventType), seconds);
  }

  /** `threadline_events_consumed_total{outcome}`: how a message left the consumer. */
  outcome(eventType: string, outcome: ConsumerOutcome): void {
    const labels = this.#sets.outcome(eventType, outcome);
    this.#outcomes.set(labels, (this.#outcomes.get(labels) ?? 0) + 1);
    if (this.#outcomes.size === 1) this.#m.pendingConsumed.add(this.#flush);
    this.#endOfTurn.schedule();
  }

  /**
   * Adds the outcomes counted this turn: by itself at the turn's end, when the consumer stops, and
   * before the metric is read (`pendingConsumed`).
   */
  flush(): void {
    if (this.#outcomes.size === 0) return;
    for (const [labels, n] of this.#outcomes) this.#m.consumed.inc(labels, n);
    this.#outcomes.clear();
    this.#m.pendingConsumed.delete(this.#flush);
  }

  deadLettered(reason: string): void {
    this.#m.deadLettered.inc({ ...this.#labels, reason });
  }
}
