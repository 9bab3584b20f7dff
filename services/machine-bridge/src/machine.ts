/**
 * One machine's view of its signals, turned into events. Pure: readings in, events out, no I/O,
 * so every rule (what is a state change, a downtime, a production quantity) is testable alone.
 *
 * Event ids are derived from the machine and the source data (UUIDv5), never random: the same
 * reading reported twice — a retried publish, a restarted bridge, a recreated subscription —
 * gives the same id, and JetStream's duplicate window drops the copy.
 */
import { formatDecimal } from "../../../contracts/src/avro.js";
import type {
  DowntimeCategory,
  EquipmentPath,
  EventPayloads,
  EventType,
  PackMlMode,
  PackMlState,
  RunningPeriod,
  SampleQuality,
  StopReason,
  TelemetrySample,
} from "../../../contracts/src/events.generated.js";
import { derivedEventId } from "../../../streams/src/envelope.js";
import { type CounterSpec, counterDelta } from "./counters.js";
import type { StateTable } from "./profiles.js";

/** The signals a machine maps; telemetry tags come as `telemetry`. */
export type SignalName =
  | "state"
  | "mode"
  | "goodCounter"
  | "rejectCounter"
  | "order"
  | "lot"
  | "stopReason"
  | "stopReasonText"
  | "telemetry";

/** One value change as the OPC UA server reported it. */
export interface Reading {
  readonly signal: SignalName;
  /** The telemetry tag (signal "telemetry" only). */
  readonly tag?: string | undefined;
  readonly value: unknown;
  readonly sourceTime: Date;
  readonly quality: SampleQuality;
}

/** An event ready to publish: payload, deterministic id, time and routing. */
export interface Outgoing<K extends EventType = EventType> {
  readonly type: K;
  readonly payload: EventPayloads[K];
  readonly id: string;
  readonly time: Date;
}

/** Where a restarted bridge picks up, read back from the streams (the last events it published). */
export interface ResumePoint {
  state?: { state: PackMlState; at: Date };
  openDowntime?: { downtimeId: string; startedAt: Date; reason: StopReason | null };
  production?: { good: bigint; reject: bigint; at: Date };
}

export interface MachineTrackerOptions {
  /** Unique machine key (ce-subject), e.g. `plant-lyon/line-1/filler-1`. */
  key: string;
  equipment: EquipmentPath;
  states: StateTable;
  /** Mode number → mode. */
  modes: ReadonlyMap<number, PackMlMode>;
  counters: CounterSpec & { uom: string };
  /** Which counters are mapped (an unmapped one reads as 0). */
  hasGoodCounter: boolean;
  hasRejectCounter: boolean;
  categories: Readonly<Record<string, DowntimeCategory>>;
  defaultCategory: DowntimeCategory;
  /** Samples per TelemetrySampled at most. */
  maxSamples: number;
  /**
   * This machine is its line's counting point: its good count is the line's finished output, and
   * a change of its order or lot ends the run (ProductionRunEnded). @default false
   */
  countingPoint?: boolean;
  /** Product code of the component whose scrap this (upstream) machine's rejects are. @default null */
  rejectedComponent?: string | null;
}

interface Counter {
  /** Last reported value (start of the open period); null before the first reading without a resume point. */
  reported: bigint | null;
  /** Latest reading. */
  current: bigint | null;
  /** Quantity since `reported`. */
  pending: bigint;
}

/** Readings at the same source time apply in this order: context first, then counts, then the state. */
const APPLY_ORDER: Readonly<Record<SignalName, number>> = {
  mode: 0,
  order: 0,
  lot: 0,
  stopReason: 0,
  stopReasonText: 0,
  goodCounter: 1,
  rejectCounter: 1,
  telemetry: 2,
  state: 3,
};

const DOWN_EXEMPT: ReadonlySet<PackMlState> = new Set(["EXECUTE", "COMPLETING"]);

export class MachineTracker {
  readonly key: string;
  #state: PackMlState | null = null;
  #mode: PackMlMode = "UNDEFINED";
  #order: string | null = null;
  #lot: string | null = null;
  #reasonCode: string | null = null;
  #reasonText: string | null = null;
  #downtime: { downtimeId: string; startedAt: Date; reason: StopReason | null } | null = null;
  readonly #good: Counter = { reported: null, current: null, pending: 0n };
  readonly #reject: Counter = { reported: null, current: null, pending: 0n };
  #periodStart: Date | null = null;
  #lastCountAt: Date | null = null;
  #samples: TelemetrySample[] = [];
  /** Since when the machine runs (EXECUTE); null when it does not. */
  #runningSince: Date | null = null;
  /** Stretches of EXECUTE that ended since the last report (clipped to it when flushed). */
  #ran: RunningPeriod[] = [];
  /**
   * Something was counted since the order or lot last changed. A lot change with nothing counted
   * since the order changed is part of that change (PLCs write order and lot in separate cycles).
   */
  #countedSinceChange = false;
  /** Counter changes classified as rollover/reset, and state numbers not in the profile. */
  readonly anomalies = { rollovers: 0, resets: 0, unknownStates: 0, staleReadings: 0 };
  /** Source time of the last value applied, per discrete signal. */
  readonly #appliedAt = new Map<SignalName, number>();

  constructor(private readonly options: MachineTrackerOptions) {
    this.key = options.key;
    if (!options.hasGoodCounter) this.#good.reported = this.#good.current = 0n;
    if (!options.hasRejectCounter) this.#reject.reported = this.#reject.current = 0n;
  }

  get state(): PackMlState | null {
    return this.#state;
  }

  /**
   * The state and both counters have been read since start (or resumed): from now on nothing the
   * machine counts goes uncounted. Before the first reading of a machine never seen, what it
   * produced is unknown and is not reported.
   */
  get baselined(): boolean {
    return this.#state !== null && this.#good.current !== null && this.#reject.current !== null;
  }

  get bufferedSamples(): number {
    return this.#samples.length;
  }

  /** Continues from what the streams already hold. Call before the first reading. */
  restore(resume: ResumePoint): void {
    if (resume.state) {
      this.#state = resume.state.state;
      if (resume.state.state === "EXECUTE") this.#runningSince = resume.state.at;
    }
    if (resume.openDowntime) this.#downtime = { ...resume.openDowntime };
    if (resume.production) {
      if (this.options.hasGoodCounter) this.#good.reported = this.#good.current = resume.production.good;
      if (this.options.hasRejectCounter)
        this.#reject.reported = this.#reject.current = resume.production.reject;
      this.#periodStart = resume.production.at;
    }
  }

  /**
   * Applies the readings of one notification (any order) and returns the events they cause, in
   * order. Bad-quality values of discrete signals are ignored (the last good value stands).
   */
  apply(readings: readonly Reading[]): Outgoing[] {
    const out: Outgoing[] = [];
    const sorted = [...readings].sort(
      (a, b) =>
        a.sourceTime.getTime() - b.sourceTime.getTime() || APPLY_ORDER[a.signal] - APPLY_ORDER[b.signal],
    );
    for (const r of sorted) {
      if (r.signal === "telemetry") {
        this.#sample(r);
        continue;
      }
      if (r.quality === "BAD") continue;
      // A value older than one already applied is a late copy (a notification republished after a
      // reconnection): applying it would move a counter back, which reads as a reset and counts twice.
      const at = r.sourceTime.getTime();
      if (at < (this.#appliedAt.get(r.signal) ?? Number.NEGATIVE_INFINITY)) {
        this.anomalies.staleReadings++;
        continue;
      }
      this.#appliedAt.set(r.signal, at);
      switch (r.signal) {
        case "state":
          this.#onState(r, out);
          break;
        case "mode":
          this.#mode = this.options.modes.get(Number(r.value)) ?? "UNDEFINED";
          break;
        case "goodCounter":
          this.#onCount(this.#good, r);
          break;
        case "rejectCounter":
          this.#onCount(this.#reject, r);
          break;
        case "order":
        case "lot":
          this.#onContext(r, out);
          break;
        case "stopReason":
          this.#reasonCode = text(r.value);
          this.#noteReason();
          break;
        case "stopReasonText":
          this.#reasonText = text(r.value);
          this.#noteReason();
          break;
      }
    }
    return out;
  }

  /**
   * A ProductionReported for what was counted since the last one, with the time the machine ran in
   * that period; none when nothing was counted — unless `withRunningTime` and the machine ran since
   * (at the end of a stretch of EXECUTE and before an order or lot change, so a machine that runs
   * without counting still reports its time, to the order it ran for).
   */
  flushProduction(
    options: { withRunningTime?: boolean; at?: Date } = {},
  ): Outgoing<"mfg.production.production_reported.v1">[] {
    const g = this.#good;
    const r = this.#reject;
    if (g.reported === null || r.reported === null || g.current === null || r.current === null) return [];
    const counted = g.pending !== 0n || r.pending !== 0n;
    const timed = options.withRunningTime === true && (this.#ran.length > 0 || this.#runningSince !== null);
    if (!counted && !timed) return [];
    const reportedAt = counted ? (this.#lastCountAt ?? new Date()) : (options.at ?? new Date());
    const periodStartAt = this.#periodStart ?? reportedAt;
    const running = this.#takeRunning(periodStartAt, reportedAt);
    if (!counted && running.length === 0) return [];
    const { uom } = this.options.counters;
    const payload: EventPayloads["mfg.production.production_reported.v1"] = {
      equipment: this.options.equipment,
      orderRef: this.#order,
      lot: this.#lot,
      goodQuantity: { value: formatDecimal(g.pending * 1_000_000n, 6), uom },
      rejectQuantity: { value: formatDecimal(r.pending * 1_000_000n, 6), uom },
      goodCounterFrom: g.reported,
      goodCounterTo: g.current,
      rejectCounterFrom: r.reported,
      rejectCounterTo: r.current,
      periodStartAt,
      reportedAt,
      countingPoint: this.options.countingPoint ?? false,
      rejectedComponent: this.options.rejectedComponent ?? null,
      running,
    };
    const id = derivedEventId(
      this.key,
      "production",
      g.reported,
      g.current,
      r.reported,
      r.current,
      periodStartAt.getTime(),
      ...(counted ? [] : ["time", reportedAt.getTime()]),
    );
    g.reported = g.current;
    r.reported = r.current;
    g.pending = r.pending = 0n;
    this.#periodStart = reportedAt;
    return [{ type: "mfg.production.production_reported.v1", payload, id, time: reportedAt }];
  }

  /** The buffered telemetry as TelemetrySampled batches (at most `maxSamples` each); empties the buffer. */
  takeTelemetry(): Outgoing<"mfg.machine.telemetry_sampled.v1">[] {
    if (this.#samples.length === 0) return [];
    const samples = this.#samples.sort((a, b) => a.sourceTime.getTime() - b.sourceTime.getTime());
    this.#samples = [];
    const out: Outgoing<"mfg.machine.telemetry_sampled.v1">[] = [];
    for (let i = 0; i < samples.length; i += this.options.maxSamples) {
      const chunk = samples.slice(i, i + this.options.maxSamples);
      const first = chunk[0] as TelemetrySample;
      const last = chunk[chunk.length - 1] as TelemetrySample;
      out.push({
        type: "mfg.machine.telemetry_sampled.v1",
        payload: { equipment: this.options.equipment, samples: chunk },
        id: derivedEventId(
          this.key,
          "telemetry",
          first.sourceTime.getTime(),
          last.sourceTime.getTime(),
          chunk.length,
        ),
        time: last.sourceTime,
      });
    }
    return out;
  }

  /** Drops the oldest buffered samples beyond `max`; returns how many were dropped. */
  trimTelemetry(max: number): number {
    const excess = this.#samples.length - max;
    if (excess <= 0) return 0;
    this.#samples.sort((a, b) => a.sourceTime.getTime() - b.sourceTime.getTime());
    this.#samples.splice(0, excess);
    return excess;
  }

  /**
   * The running stretches within [from, to]: those that ended (clipped), and the one under way up
   * to `to` (it goes on from `to`). What ended after `to` stays for the next report.
   */
  #takeRunning(from: Date, to: Date): RunningPeriod[] {
    const out: RunningPeriod[] = [];
    const later: RunningPeriod[] = [];
    const clip = (p: RunningPeriod) => {
      const startedAt = p.startedAt < from ? from : p.startedAt;
      const endedAt = p.endedAt > to ? to : p.endedAt;
      if (endedAt > startedAt) out.push({ startedAt, endedAt });
      if (p.endedAt > to) later.push({ startedAt: to > p.startedAt ? to : p.startedAt, endedAt: p.endedAt });
    };
    for (const p of this.#ran) clip(p);
    if (this.#runningSince && this.#runningSince < to) {
      clip({ startedAt: this.#runningSince, endedAt: to });
      this.#runningSince = to;
    }
    this.#ran = later;
    return out;
  }

  #sample(r: Reading): void {
    const value = Number(r.value); // booleans as 0/1
    if (!Number.isFinite(value) || r.tag === undefined) return;
    this.#samples.push({ tag: r.tag, value, quality: r.quality, sourceTime: r.sourceTime });
  }

  #onCount(c: Counter, r: Reading): void {
    const value = toBigInt(r.value);
    if (value === null) return;
    if (c.current === null) {
      // First reading with no resume point: the baseline; what was produced before is unknown.
      c.reported = c.current = value;
      this.#periodStart ??= r.sourceTime;
      return;
    }
    const d = counterDelta(c.current, value, this.options.counters);
    if (d.change === "rollover") this.anomalies.rollovers++;
    if (d.change === "reset") this.anomalies.resets++;
    c.pending += d.quantity;
    c.current = value;
    if (d.quantity > 0n) this.#countedSinceChange = true;
    if (!this.#lastCountAt || r.sourceTime > this.#lastCountAt) this.#lastCountAt = r.sourceTime;
  }

  #onContext(r: Reading, out: Outgoing[]): void {
    const value = text(r.value);
    const current = r.signal === "order" ? this.#order : this.#lot;
    if (value === current) return;
    // Quantities counted and time run so far belong to the order/lot that was running.
    out.push(...this.flushProduction({ withRunningTime: true, at: r.sourceTime }));
    if (r.signal === "order") {
      this.#endRun("ORDER_CHANGE", r.sourceTime, value, null, out);
      this.#order = value;
    } else if (!this.#countedSinceChange) {
      // Nothing made since the last change: this lot belongs to it (the next run starts with it).
      const ended = out.findLast((e) => e.type === "mfg.production.production_run_ended.v1");
      if (ended) (ended.payload as { nextLot: string | null }).nextLot = value;
      this.#lot = value;
    } else {
      this.#endRun("LOT_CHANGE", r.sourceTime, this.#order, value, out);
      this.#lot = value;
    }
    this.#countedSinceChange = false;
  }

  /** At the counting point, the run of the current order (and lot) ends. */
  #endRun(
    reason: "ORDER_CHANGE" | "LOT_CHANGE",
    at: Date,
    nextOrderRef: string | null,
    nextLot: string | null,
    out: Outgoing[],
  ): void {
    if (!this.options.countingPoint || this.#order === null) return;
    out.push({
      type: "mfg.production.production_run_ended.v1",
      payload: {
        equipment: this.options.equipment,
        orderRef: this.#order,
        lot: this.#lot,
        reason,
        nextOrderRef,
        nextLot,
        requestedBy: null,
        endedAt: at,
      },
      id: derivedEventId(this.key, "run-ended", at.getTime(), this.#order, this.#lot ?? "", reason),
      time: at,
    });
  }

  #reason(): StopReason | null {
    return this.#reasonCode ? { code: this.#reasonCode, text: this.#reasonText } : null;
  }

  /** A reason that arrives while down is the downtime's (final) classification. */
  #noteReason(): void {
    const reason = this.#reason();
    if (this.#downtime && reason) this.#downtime.reason = reason;
  }

  #category(reason: StopReason | null): DowntimeCategory {
    return (reason && this.options.categories[reason.code]) || this.options.defaultCategory;
  }

  #onState(r: Reading, out: Outgoing[]): void {
    const n = Number(r.value);
    const state = this.options.states.get(n);
    if (state === undefined) this.anomalies.unknownStates++;
    const next = state ?? "UNDEFINED";
    const previous = this.#state;
    if (next === previous) return;
    this.#state = next;
    const at = r.sourceTime;
    if (next === "EXECUTE") this.#runningSince ??= at;
    else if (this.#runningSince) {
      if (at > this.#runningSince) this.#ran.push({ startedAt: this.#runningSince, endedAt: at });
      this.#runningSince = null;
      // The stretch's time is reported now even if nothing was counted (a long cycle, a stop).
      out.push(...this.flushProduction({ withRunningTime: true, at }));
    }
    const down = !DOWN_EXEMPT.has(next);
    const reason = down ? this.#reason() : null;
    out.push({
      type: "mfg.machine.machine_state_changed.v1",
      payload: {
        equipment: this.options.equipment,
        state: next,
        previousState: previous ?? "UNDEFINED",
        mode: this.#mode,
        stopReason: reason,
        changedAt: at,
      },
      id: derivedEventId(this.key, "state", at.getTime(), next),
      time: at,
    });
    // A downtime is time out of EXECUTE, except a normal completion; it ends back in EXECUTE.
    if (previous === "EXECUTE" && down && !this.#downtime) {
      const downtimeId = derivedEventId(this.key, "downtime", at.getTime());
      this.#downtime = { downtimeId, startedAt: at, reason };
      out.push({
        type: "mfg.machine.downtime_started.v1",
        payload: {
          downtimeId,
          equipment: this.options.equipment,
          reason,
          category: this.#category(reason),
          startedAt: at,
        },
        id: derivedEventId(this.key, "downtime-started", at.getTime()),
        time: at,
      });
    } else if (next === "EXECUTE" && this.#downtime) {
      const d = this.#downtime;
      this.#downtime = null;
      out.push({
        type: "mfg.machine.downtime_ended.v1",
        payload: {
          downtimeId: d.downtimeId,
          equipment: this.options.equipment,
          reason: d.reason,
          category: this.#category(d.reason),
          startedAt: d.startedAt,
          endedAt: at,
          durationMillis: BigInt(at.getTime() - d.startedAt.getTime()),
        },
        id: derivedEventId(d.downtimeId, "downtime-ended"),
        time: at,
      });
    }
  }
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const s = String(value).trim();
  return s === "" ? null : s;
}

function toBigInt(value: unknown): bigint | null {
  if (typeof value === "bigint") return value >= 0n ? value : null;
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : null;
  // node-opcua gives UInt64/Int64 as [high, low] 32-bit words.
  if (Array.isArray(value) && value.length === 2) {
    const [hi, lo] = value as [number, number];
    return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }
  return null;
}
