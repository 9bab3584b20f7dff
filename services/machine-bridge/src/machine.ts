/**
 * One machine's view of its signals, turned into events. Pure: readings in, events out, no I/O,
 * so every rule (what is a state change, a downtime, a production quantity) is testable alone.
 *
 * A machine says what it has, and gets the events that follow from it — nothing invented:
 * - a PackML `state`: MachineStateChanged, downtime (out of EXECUTE), running time (EXECUTE);
 * - a `running` signal (a boolean, or a vendor's status with the values that mean running):
 *   downtime and running time from it, no MachineStateChanged (there is no PackML state to tell);
 * - counters (with or without either): ProductionReported, the counting point's run ends;
 * - telemetry only: TelemetrySampled only;
 * - alarms (OPC UA Alarms & Conditions): AlarmRaised/Acknowledged/Cleared, and, when configured,
 *   the reason of a downtime that has no stop reason signal.
 *
 * Event ids are derived from the machine and the source data (UUIDv5), never random: the same
 * reading reported twice — a retried publish, a restarted bridge, a recreated subscription —
 * gives the same id, and JetStream's duplicate window drops the copy.
 */
import {
  type Alarm,
  type DowntimeCategory,
  type EquipmentPath,
  type EventPayloads,
  type EventType,
  formatDecimal,
  type PackMlMode,
  type PackMlState,
  type RunningPeriod,
  type SampleQuality,
  type StopReason,
  type TelemetrySample,
} from "../../../contracts/src/index.js";
import { derivedEventId } from "../../../streams/src/index.js";
import { type CounterSpec, counterDelta } from "./counters.js";
import type { StateTable } from "./profiles.js";
import {
  countOf,
  namedMode,
  namedState,
  numberOf,
  runningOf,
  sampleFieldsOf,
  statusCodeText,
  textOf,
  type Value,
} from "./values.js";

/** The signals a machine maps; telemetry tags come as `telemetry`, alarm events as `alarm`. */
export type SignalName =
  | "state"
  | "running"
  | "mode"
  | "goodCounter"
  | "rejectCounter"
  | "order"
  | "lot"
  | "stopReason"
  | "stopReasonText"
  | "telemetry"
  | "alarm";

/** One value change (or, for `alarm`, one event) as the OPC UA server reported it. */
export interface Reading {
  readonly signal: SignalName;
  /** The telemetry tag (signal "telemetry" only). */
  readonly tag?: string | undefined;
  readonly value: Value;
  readonly sourceTime: Date;
  readonly quality: SampleQuality;
  /** The event (signal "alarm" only). */
  readonly alarm?: AlarmNotification;
}

/**
 * An event of the machine's notifier, reduced to what the bridge uses: a condition's state
 * (OPC UA Alarms & Conditions, OPC 10000-9), or the start/end of a ConditionRefresh.
 */
export type AlarmNotification =
  | { readonly kind: "refreshStart" }
  /** `time`: the RefreshEnd event's time — when the bridge learned that what was not re-sent is gone. */
  | { readonly kind: "refreshEnd"; readonly time: Date }
  | {
      readonly kind: "condition";
      readonly conditionId: string;
      readonly conditionName: string | null;
      readonly sourceName: string | null;
      readonly alarmType: string;
      readonly severity: number;
      readonly message: string | null;
      /** The event's Time. */
      readonly time: Date;
      /** ActiveState/Id; null for a condition that is not an alarm (it is then ignored). */
      readonly active: boolean | null;
      /** AckedState/Id; null when the condition cannot be acknowledged. */
      readonly acked: boolean | null;
      readonly activeAt: Date | null;
      readonly ackedAt: Date | null;
      readonly comment: string | null;
      /** A previous state's branch (BranchId not null): not the condition's current state. */
      readonly branch: boolean;
    };

/** A value the tracker could not use, for a log line and a metric naming the machine, the tag and the reason. */
export interface Drop {
  /** `telemetry`: a sample of tag `name`; `signal`: a reading of signal `name`. */
  readonly kind: "telemetry" | "signal";
  readonly name: string;
  /** A short stable label: unsupported_type, array_too_long, not_a_count, bad_quality … */
  readonly reason: string;
  /** For people: the value's type, the value. */
  readonly detail: string;
  readonly count: number;
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
  /** A machine with a running signal: whether it ran when the last event was published. */
  running?: { running: boolean; at: Date };
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
  /** Counter limits and the counting units (`rejectUom` defaults to `uom`). */
  counters: CounterSpec & { uom: string; rejectUom?: string | undefined };
  /** Which counters are mapped (an unmapped one reads as 0). */
  hasGoodCounter: boolean;
  hasRejectCounter: boolean;
  /** A PackML state is mapped. @default true */
  hasState?: boolean;
  /**
   * A running signal is mapped (instead of a state): without `values` a boolean (or a number, 0 =
   * not running), with `values` the values of a vendor's status that mean running. @default none
   */
  running?: { values?: readonly (string | number | boolean)[] } | null;
  /** Alarms are monitored; with `downtimeReason`, the most severe active alarm names a downtime. @default none */
  alarms?: { downtimeReason: { minSeverity: number } | null } | null;
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
  alarm: 0, // (events go first, in arrival order: see apply)
  mode: 0,
  order: 0,
  lot: 0,
  stopReason: 0,
  stopReasonText: 0,
  goodCounter: 1,
  rejectCounter: 1,
  telemetry: 2,
  state: 3,
  running: 3,
};

/** Where a downtime's reason came from: a stop reason signal beats an alarm, which beats a vendor status. */
const REASON_RANK = { none: 0, status: 1, alarm: 2, signal: 3 } as const;
type ReasonRank = (typeof REASON_RANK)[keyof typeof REASON_RANK];

/** An alarm the tracker has seen raised, until it is cleared and acknowledged. */
interface ActiveAlarm {
  alarmId: string;
  alarm: Alarm;
  raisedAt: Date;
  active: boolean;
  acked: boolean;
  /** Seen again in the ConditionRefresh under way (alarms not seen again cleared meanwhile). */
  refreshed: boolean;
}

const DOWN_EXEMPT: ReadonlySet<PackMlState> = new Set(["EXECUTE", "COMPLETING"]);

export class MachineTracker {
  readonly key: string;
  #state: PackMlState | null = null;
  #mode: PackMlMode = "UNDEFINED";
  #order: string | null = null;
  #lot: string | null = null;
  #reasonCode: string | null = null;
  #reasonText: string | null = null;
  #downtime: { downtimeId: string; startedAt: Date; reason: StopReason | null; rank: ReasonRank } | null =
    null;
  /** What the running signal last said; null before its first reading (or without one). */
  #running: boolean | null = null;
  /** The vendor status value while not running (a reason of last resort). */
  #statusReason: string | null = null;
  /** Alarms raised and not yet both cleared and acknowledged, by condition id. */
  readonly #alarms = new Map<string, ActiveAlarm>();
  #refreshing = false;
  /** Values that could not be used since the last {@link takeDrops}. */
  #drops: Drop[] = [];
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
    const status =
      (this.options.hasState ?? true)
        ? this.#state !== null
        : this.options.running
          ? this.#running !== null
          : true;
    return status && this.#good.current !== null && this.#reject.current !== null;
  }

  /** What the running signal says (null: unknown, or no running signal). */
  get running(): boolean | null {
    return this.#running;
  }

  /** The values dropped since the last call (each to be logged and counted by the caller). */
  takeDrops(): Drop[] {
    const out = this.#drops;
    this.#drops = [];
    return out;
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
    if (resume.running && this.options.running) {
      this.#running = resume.running.running;
      if (resume.running.running) this.#runningSince = resume.running.at;
    }
    if (resume.openDowntime)
      this.#downtime = {
        ...resume.openDowntime,
        rank: resume.openDowntime.reason ? REASON_RANK.signal : REASON_RANK.none,
      };
    if (resume.production) {
      // A UInt64 counter's reading above 2^63 - 1 was stored as the long with the same 64 bits.
      const reading = (v: bigint) => (this.options.counters.max > INT64_MAX ? BigInt.asUintN(64, v) : v);
      if (this.options.hasGoodCounter)
        this.#good.reported = this.#good.current = reading(resume.production.good);
      if (this.options.hasRejectCounter)
        this.#reject.reported = this.#reject.current = reading(resume.production.reject);
      this.#periodStart = resume.production.at;
    }
  }

  /**
   * Applies the readings of one notification (any order) and returns the events they cause, in
   * order. Bad-quality values of discrete signals are ignored (the last good value stands).
   */
  apply(readings: readonly Reading[]): Outgoing[] {
    const out: Outgoing[] = [];
    // Events of the notifier go first and in the order they came: a ConditionRefresh re-sends
    // conditions with their old times between a RefreshStart and a RefreshEnd of now, and an alarm
    // that came with a stop is known when the downtime starts.
    for (const r of readings) if (r.signal === "alarm" && r.alarm) this.#onAlarm(r.alarm, out);
    const sorted = readings
      .filter((r) => r.signal !== "alarm")
      .sort(
        (a, b) =>
          a.sourceTime.getTime() - b.sourceTime.getTime() || APPLY_ORDER[a.signal] - APPLY_ORDER[b.signal],
      );
    for (const r of sorted) {
      if (r.signal === "telemetry") {
        this.#sample(r);
        continue;
      }
      if (r.quality === "BAD") {
        this.#drop("signal", r.signal, "bad_quality", describe(r.value));
        continue;
      }
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
        case "running":
          this.#onRunning(r, out);
          break;
        case "mode":
          this.#onMode(r);
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
          this.#reasonCode = this.#text(r);
          this.#noteReason();
          break;
        case "stopReasonText":
          this.#reasonText = this.#text(r);
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
    const { uom, rejectUom = uom } = this.options.counters;
    const payload: EventPayloads["mfg.production.production_reported.v1"] = {
      equipment: this.options.equipment,
      orderRef: this.#order,
      lot: this.#lot,
      goodQuantity: { value: formatDecimal(g.pending * 1_000_000n, 6), uom },
      rejectQuantity: { value: formatDecimal(r.pending * 1_000_000n, 6), uom: rejectUom },
      goodCounterFrom: asLong(g.reported),
      goodCounterTo: asLong(g.current),
      rejectCounterFrom: asLong(r.reported),
      rejectCounterTo: asLong(r.current),
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
    const tag = r.tag ?? "?";
    const { samples, refused } = sampleFieldsOf(r.value);
    for (const fields of samples)
      this.#samples.push({ ...fields, tag, quality: r.quality, sourceTime: r.sourceTime });
    if (refused) this.#drop("telemetry", tag, refused.reason, refused.type, refused.count);
  }

  #drop(kind: Drop["kind"], name: string, reason: string, detail: string, count = 1): void {
    this.#drops.push({ kind, name, reason, detail, count });
  }

  /** A reading's text (order, lot, stop reason); a value that has none is dropped (and counted). */
  #text(r: Reading): string | null {
    const t = textOf(r.value);
    if (t === null && r.value.kind !== "null" && r.value.kind !== "text")
      this.#drop("signal", r.signal, "not_a_text", describe(r.value));
    return t;
  }

  #onMode(r: Reading): void {
    const n = numberOf(r.value);
    const mode = n !== null ? this.options.modes.get(n) : namedMode(r.value);
    if (n === null && mode === null) this.#drop("signal", "mode", "not_a_mode", describe(r.value));
    this.#mode = mode ?? "UNDEFINED";
  }

  #onCount(c: Counter, r: Reading): void {
    const value = countOf(r.value);
    if (value === null) {
      this.#drop("signal", r.signal, "not_a_count", describe(r.value));
      return;
    }
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
    const value = this.#text(r);
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

  /** The best reason at hand, and where it comes from (see REASON_RANK). */
  #reasonRanked(): { reason: StopReason | null; rank: ReasonRank } {
    if (this.#reasonCode)
      return { reason: { code: this.#reasonCode, text: this.#reasonText }, rank: REASON_RANK.signal };
    const alarm = this.#alarmReason();
    if (alarm) return { reason: alarm, rank: REASON_RANK.alarm };
    if (this.#statusReason)
      return { reason: { code: this.#statusReason, text: null }, rank: REASON_RANK.status };
    return { reason: null, rank: REASON_RANK.none };
  }

  #reason(): StopReason | null {
    return this.#reasonRanked().reason;
  }

  /** The most severe active alarm (the latest of equals) at or above the configured severity. */
  #alarmReason(): StopReason | null {
    const rule = this.options.alarms?.downtimeReason;
    if (!rule) return null;
    let best: ActiveAlarm | undefined;
    for (const a of this.#alarms.values()) {
      if (!a.active || a.alarm.severity < rule.minSeverity) continue;
      if (
        !best ||
        a.alarm.severity > best.alarm.severity ||
        (a.alarm.severity === best.alarm.severity && a.raisedAt >= best.raisedAt)
      )
        best = a;
    }
    if (!best) return null;
    const code = best.alarm.conditionName ?? best.alarm.sourceName ?? best.alarm.conditionId;
    return { code, text: best.alarm.message };
  }

  /**
   * A reason that arrives while down is the downtime's (final) classification — unless the
   * downtime already has one from a better source (a stop reason signal over an alarm over a status).
   */
  #noteReason(): void {
    const d = this.#downtime;
    if (!d) return;
    const { reason, rank } = this.#reasonRanked();
    if (reason && rank >= d.rank) {
      d.reason = reason;
      d.rank = rank;
    }
  }

  #category(reason: StopReason | null): DowntimeCategory {
    return (reason && this.options.categories[reason.code]) || this.options.defaultCategory;
  }

  #onState(r: Reading, out: Outgoing[]): void {
    // A number in the machine's profile, or (a String or LocalizedText node) the state's name.
    const n = numberOf(r.value);
    let state: PackMlState | undefined;
    if (n !== null) state = this.options.states.get(n);
    else {
      state = namedState(r.value) ?? undefined;
      if (state === undefined && r.value.kind !== "text" && r.value.kind !== "enumeration") {
        this.#drop("signal", "state", "not_a_state", describe(r.value));
        return;
      }
    }
    if (state === undefined) this.anomalies.unknownStates++;
    const next = state ?? "UNDEFINED";
    const previous = this.#state;
    if (next === previous) return;
    this.#state = next;
    const at = r.sourceTime;
    if (next === "EXECUTE") this.#runningSince ??= at;
    else this.#stopRunning(at, out);
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
    if (previous === "EXECUTE" && down && !this.#downtime) this.#startDowntime(at, out);
    else if (next === "EXECUTE" && this.#downtime) this.#endDowntime(at, out);
  }

  /**
   * A running signal: running time while it says so, a downtime from running to not running and
   * back. No MachineStateChanged: a running flag does not say which PackML state the machine is in.
   */
  #onRunning(r: Reading, out: Outgoing[]): void {
    const values = this.options.running?.values;
    const running = runningOf(r.value, values);
    if (running === null) {
      this.#drop("signal", "running", "not_a_running_value", describe(r.value));
      return;
    }
    // A vendor status that is not "running" says why (Fault, Setup …): the reason of last resort.
    this.#statusReason = !running && values && values.length > 0 ? statusCodeText(r.value) : null;
    const previous = this.#running;
    this.#running = running;
    const at = r.sourceTime;
    if (running === previous) {
      this.#noteReason();
      return;
    }
    if (running) {
      this.#runningSince ??= at;
      if (this.#downtime) this.#endDowntime(at, out);
      return;
    }
    this.#stopRunning(at, out);
    // Only a stop seen happen is a downtime: a first reading "not running" has no known start.
    if (previous === true && !this.#downtime) this.#startDowntime(at, out);
    else this.#noteReason();
  }

  /** The stretch of running time under way ends at `at`; its time is reported now. */
  #stopRunning(at: Date, out: Outgoing[]): void {
    if (!this.#runningSince) return;
    if (at > this.#runningSince) this.#ran.push({ startedAt: this.#runningSince, endedAt: at });
    this.#runningSince = null;
    // The stretch's time is reported now even if nothing was counted (a long cycle, a stop).
    out.push(...this.flushProduction({ withRunningTime: true, at }));
  }

  #startDowntime(at: Date, out: Outgoing[]): void {
    const { reason, rank } = this.#reasonRanked();
    const downtimeId = derivedEventId(this.key, "downtime", at.getTime());
    this.#downtime = { downtimeId, startedAt: at, reason, rank };
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
  }

  #endDowntime(at: Date, out: Outgoing[]): void {
    const d = this.#downtime;
    if (!d) return;
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

  /**
   * One event of the machine's notifier. A condition's current state is compared with what was
   * seen: becoming active raises, AckedState becoming true acknowledges, no longer active clears.
   * Branches (states kept for a late acknowledgement) are not followed. A ConditionRefresh
   * re-sends every retained condition: one that was active and is not re-sent cleared while the
   * bridge could not see it, and is cleared when the refresh ends.
   */
  #onAlarm(n: AlarmNotification, out: Outgoing[]): void {
    if (n.kind === "refreshStart") {
      this.#refreshing = true;
      for (const a of this.#alarms.values()) a.refreshed = false;
      return;
    }
    if (n.kind === "refreshEnd") {
      if (!this.#refreshing) return;
      this.#refreshing = false;
      for (const [id, a] of this.#alarms)
        if (!a.refreshed) {
          if (a.active) this.#alarmCleared(a, n.time, out);
          this.#alarms.delete(id);
        }
      return;
    }
    if (n.branch || n.active === null) return;
    const alarm: Alarm = {
      conditionId: n.conditionId,
      conditionName: n.conditionName,
      sourceName: n.sourceName,
      alarmType: n.alarmType,
      severity: n.severity,
      message: n.message,
    };
    let known = this.#alarms.get(n.conditionId);
    if (known) {
      known.refreshed = true;
      known.alarm = alarm;
    }
    if (n.active && !known?.active) {
      // A new activation (or the first sight of an active one).
      const raisedAt = n.activeAt ?? n.time;
      known = {
        alarmId: derivedEventId(this.key, "alarm", n.conditionId, raisedAt.getTime()),
        alarm,
        raisedAt,
        active: true,
        acked: n.acked ?? false,
        refreshed: true,
      };
      this.#alarms.set(n.conditionId, known);
      out.push({
        type: "mfg.machine.alarm_raised.v1",
        payload: { alarmId: known.alarmId, equipment: this.options.equipment, alarm, raisedAt },
        id: derivedEventId(known.alarmId, "raised"),
        time: raisedAt,
      });
      this.#noteReason();
      return;
    }
    if (!known) return; // cleared, or never seen active: nothing to follow
    if (n.acked === true && !known.acked) {
      known.acked = true;
      const acknowledgedAt = n.ackedAt ?? n.time;
      out.push({
        type: "mfg.machine.alarm_acknowledged.v1",
        payload: {
          alarmId: known.alarmId,
          equipment: this.options.equipment,
          alarm,
          comment: n.comment,
          acknowledgedAt,
        },
        id: derivedEventId(known.alarmId, "acknowledged"),
        time: acknowledgedAt,
      });
    }
    if (!n.active && known.active) this.#alarmCleared(known, n.activeAt ?? n.time, out);
    // Done with it once cleared and acknowledged (or when it cannot be acknowledged).
    if (!known.active && (known.acked || n.acked === null)) this.#alarms.delete(n.conditionId);
  }

  #alarmCleared(a: ActiveAlarm, at: Date, out: Outgoing[]): void {
    a.active = false;
    const clearedAt = at < a.raisedAt ? a.raisedAt : at;
    out.push({
      type: "mfg.machine.alarm_cleared.v1",
      payload: {
        alarmId: a.alarmId,
        equipment: this.options.equipment,
        alarm: a.alarm,
        raisedAt: a.raisedAt,
        clearedAt,
        durationMillis: BigInt(clearedAt.getTime() - a.raisedAt.getTime()),
        acknowledged: a.acked,
      },
      id: derivedEventId(a.alarmId, "cleared"),
      time: clearedAt,
    });
  }
}

const INT64_MAX = 2n ** 63n - 1n;

/** A counter reading as an Avro long: its 64 bits (a UInt64 above 2^63 - 1 reads negative). */
function asLong(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

/** A value for a log line: its kind and what it holds. */
export function describe(v: Value): string {
  switch (v.kind) {
    case "null":
      return "no value (Null)";
    case "array":
      return `an array of ${v.elements.length}`;
    case "unsupported":
      return v.type;
    case "integer":
    case "float":
    case "text":
      return `${v.type} ${String(v.value)}`;
    case "time":
      return `DateTime ${v.value.toISOString()}`;
    case "boolean":
      return `Boolean ${v.value}`;
    case "enumeration":
      return `enumeration ${v.value}${v.name ? ` (${v.name})` : ""}`;
    case "statusCode":
      return `StatusCode ${v.name}`;
  }
}
