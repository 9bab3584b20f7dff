/**
 * The plant simulator's model: every machine's PackML state, counters, order/lot, stop reasons,
 * downtime and telemetry, stepped by a VIRTUAL clock (`advance(ms)`) and a seeded PRNG. Nothing here
 * reads the wall clock or `Math.random`: the same config and seed give the same run, event for event.
 * The OPC UA server mirrors the model through `onChange`; tests compare a bridge against `groundTruth()`.
 *
 * Randomness is split into independent streams per machine and purpose (production, telemetry), so
 * scripted commands change production but never the telemetry sequence, and adding a machine does
 * not change the others.
 */
import { ThreadlineError } from "../../../contracts/src/index.js";
import {
  type MachineConfig,
  type PlantConfig,
  type PlantConfigInput,
  parsePlantConfig,
  type ScenarioStep,
} from "./config.js";
import {
  completedState,
  IllegalTransitionError,
  type PackMlCommand,
  type PackMlState,
  stateNumber,
  transition,
  tryTransition,
} from "./packml.js";

// ---------------------------------------------------------------------------------------------
// Seeded PRNG

/** A deterministic uniform generator in [0, 1). */
export interface Rng {
  next(): number;
}

/** mulberry32: a small, fast 32-bit PRNG; fine for simulation, not for cryptography. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** A 32-bit seed derived from a base seed and labels (FNV-1a, then a murmur3 finaliser). */
export function deriveSeed(seed: number, ...labels: string[]): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (const ch of labels.join("\u0000")) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Standard normal variate (Box–Muller). */
function gaussian(rng: Rng): number {
  const u1 = 1 - rng.next(); // (0, 1]
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

function uniformInt(rng: Rng, [min, max]: readonly [number, number]): number {
  return min + Math.floor(rng.next() * (max - min + 1));
}

// ---------------------------------------------------------------------------------------------
// Public types

export interface StopReason {
  code: string;
  text: string | null;
}

/** What caused a state change: a command, or "SC" (an acting state completed). */
export type TransitionCause = PackMlCommand | "SC";

export type ChangeEvent =
  | {
      type: "state";
      machine: string;
      at: number;
      state: PackMlState;
      previous: PackMlState;
      cause: TransitionCause;
      stopReason: StopReason | null;
    }
  | {
      type: "counter";
      machine: string;
      at: number;
      counter: "good" | "reject";
      /** The PLC counter value (wraps at `counters.max`, 0 after a reset). */
      value: number;
      previous: number;
      cause: "cycle" | "rollover" | "reset";
    }
  | {
      type: "telemetry";
      machine: string;
      at: number;
      tag: string;
      unit: string;
      value: number;
      /** The sample belongs to an injected out-of-control run. */
      outOfControl: boolean;
    }
  | { type: "order"; machine: string; at: number; order: string | null; lot: string | null }
  | { type: "commandRejected"; machine: string; at: number; command: PackMlCommand; state: PackMlState };

export type ChangeListener = (event: ChangeEvent) => void;

export interface StateTransition {
  at: number;
  from: PackMlState;
  to: PackMlState;
  cause: TransitionCause;
}

/** Time out of EXECUTE (except a normal completion): from leaving EXECUTE until back in EXECUTE. */
export interface DowntimeInterval {
  start: number;
  /** null while the machine is still down. */
  end: number | null;
  /** end - start; up to now while open. */
  durationMs: number;
  reason: StopReason | null;
  /** The state the machine left EXECUTE for (HOLDING, STOPPING, SUSPENDING, ABORTING). */
  enteredState: PackMlState;
}

export interface OutOfControlRun {
  tag: string;
  /** Time of the first sample of the run. */
  start: number;
  length: number;
  /** +1: above the centre line, -1: below. */
  direction: 1 | -1;
}

export interface OrderTotals {
  order: string | null;
  lot: string | null;
  good: number;
  reject: number;
}

export interface MachineGroundTruth {
  id: string;
  site: string;
  line: string;
  state: PackMlState;
  /** True totals since t=0, never reset, never wrapped. */
  good: number;
  reject: number;
  /** Completed production cycles (= good + reject). */
  cycles: number;
  /** PLC counter values as the machine shows them now. */
  goodCounter: number;
  rejectCounter: number;
  counterResets: number;
  rollovers: { good: number; reject: number };
  transitions: StateTransition[];
  downtime: DowntimeInterval[];
  outOfControlRuns: OutOfControlRun[];
  byOrder: OrderTotals[];
  rejectedCommands: { at: number; command: PackMlCommand; state: PackMlState }[];
}

export interface MachineSnapshot {
  id: string;
  site: string;
  line: string;
  state: PackMlState;
  /** PackTags state number. */
  stateNumber: number;
  goodCounter: number;
  rejectCounter: number;
  counterMax: number;
  cycleTimeMs: number;
  order: string | null;
  lot: string | null;
  stopReason: StopReason | null;
  /** Last sampled value per tag (absent before the first sample). */
  telemetry: Record<string, number>;
}

export interface ForceStopOptions {
  text?: string;
  kind?: "hold" | "stop";
  /** Auto-recover after this long HELD/STOPPED; absent: the configured range for that code, or stay down. */
  durationMs?: number;
}

/** A machine id that is not in the plant. */
export class UnknownMachineError extends ThreadlineError {
  constructor(readonly machine: string) {
    super("SIM_UNKNOWN_MACHINE", `no machine ${machine} in the plant`);
  }
}

// ---------------------------------------------------------------------------------------------
// One machine

interface TagRun {
  remaining: number;
  direction: 1 | -1;
}

class SimMachine {
  readonly id: string;
  state: PackMlState;
  stopReason: StopReason | null = null;
  order: string | null;
  lot: string | null;
  goodCounter: number;
  rejectCounter: number;

  private actingUntil: number | null = null;
  private recoverAt: number | null = null;
  private autoStart = false;
  /** Recovery delay of a random/forced stop, armed when the wait state (HELD/STOPPED) is reached. */
  private pendingDuration: number | null = null;
  private cycleRemaining: number;
  private cycleDueAt: number | null = null;
  private nextSampleAt = 0;
  private readonly runs = new Map<string, TagRun>();
  readonly lastValues: Record<string, number> = {};
  readonly truth: MachineGroundTruth;
  private readonly orders = new Map<string, OrderTotals>();
  private readonly prod: Rng;
  private readonly tel: Rng;

  constructor(
    readonly cfg: MachineConfig,
    site: string,
    line: string,
    seed: number,
    private readonly emit: (e: ChangeEvent) => void,
  ) {
    this.id = cfg.id;
    this.state = cfg.initialState;
    this.order = cfg.order;
    this.lot = cfg.lot;
    this.goodCounter = cfg.counters.initialGood;
    this.rejectCounter = cfg.counters.initialReject;
    this.cycleRemaining = cfg.cycleTimeMs;
    if (this.state === "EXECUTE") this.cycleDueAt = cfg.cycleTimeMs;
    this.prod = mulberry32(deriveSeed(seed, cfg.id, "production"));
    this.tel = mulberry32(deriveSeed(seed, cfg.id, "telemetry"));
    this.truth = {
      id: cfg.id,
      site,
      line,
      state: this.state,
      good: 0,
      reject: 0,
      cycles: 0,
      goodCounter: this.goodCounter,
      rejectCounter: this.rejectCounter,
      counterResets: 0,
      rollovers: { good: 0, reject: 0 },
      transitions: [],
      downtime: [],
      outOfControlRuns: [],
      byOrder: [],
      rejectedCommands: [],
    };
  }

  /** Earliest time something is due, or undefined. */
  nextDue(): number {
    let t = this.nextSampleAt;
    if (this.actingUntil !== null) t = Math.min(t, this.actingUntil);
    if (this.recoverAt !== null) t = Math.min(t, this.recoverAt);
    if (this.cycleDueAt !== null) t = Math.min(t, this.cycleDueAt);
    return t;
  }

  /** Processes everything due at or before `now` (acting completions cascade when actingStateMs is 0). */
  processDue(now: number): void {
    for (;;) {
      if (this.actingUntil !== null && this.actingUntil <= now) {
        this.actingUntil = null;
        this.setState(completedState(this.state) as PackMlState, "SC", now);
        if (this.state === "IDLE" && this.autoStart) {
          this.autoStart = false;
          this.apply("Start", now);
        }
      } else if (this.recoverAt !== null && this.recoverAt <= now) {
        this.recoverAt = null;
        if (this.state === "HELD") this.apply("Unhold", now);
        else if (this.state === "STOPPED") {
          this.autoStart = true;
          this.apply("Reset", now);
        }
      } else if (this.cycleDueAt !== null && this.cycleDueAt <= now) {
        this.completeCycle(now);
      } else if (this.nextSampleAt <= now) {
        this.sample(now);
        this.nextSampleAt += this.cfg.sampleIntervalMs;
      } else return;
    }
  }

  /** An external or scripted command: cancels any pending automatic recovery. */
  command(cmd: PackMlCommand, now: number, reason: StopReason | null): PackMlState {
    transition(this.state, cmd, this.id); // throws IllegalTransitionError
    this.recoverAt = null;
    this.autoStart = false;
    this.pendingDuration = null;
    if (reason) this.setReason(reason);
    this.apply(cmd, now);
    return this.state;
  }

  tryScriptedCommand(cmd: PackMlCommand, now: number): void {
    if (tryTransition(this.state, cmd) === undefined) this.reject(cmd, now);
    else this.command(cmd, now, null);
  }

  forceStop(code: string, opts: ForceStopOptions, now: number): boolean {
    const configured = this.cfg.stopReasons.find((r) => r.code === code);
    const kind = opts.kind ?? configured?.kind ?? "hold";
    const cmd: PackMlCommand = kind === "hold" ? "Hold" : "Stop";
    if (this.state !== "EXECUTE") {
      this.reject(cmd, now);
      return false;
    }
    const duration =
      opts.durationMs ?? (configured ? uniformInt(this.prod, configured.durationMs) : undefined);
    this.stop({ code, text: opts.text ?? configured?.text ?? null }, kind, duration ?? null, now);
    return true;
  }

  setOrder(order: string | null | undefined, lot: string | null | undefined, now: number): void {
    if (order !== undefined) this.order = order;
    if (lot !== undefined) this.lot = lot;
    this.emit({ type: "order", machine: this.id, at: now, order: this.order, lot: this.lot });
  }

  resetCounters(now: number): void {
    this.truth.counterResets++;
    const g = this.goodCounter;
    const r = this.rejectCounter;
    this.goodCounter = 0;
    this.rejectCounter = 0;
    this.emit({
      type: "counter",
      machine: this.id,
      at: now,
      counter: "good",
      value: 0,
      previous: g,
      cause: "reset",
    });
    this.emit({
      type: "counter",
      machine: this.id,
      at: now,
      counter: "reject",
      value: 0,
      previous: r,
      cause: "reset",
    });
  }

  groundTruth(now: number): MachineGroundTruth {
    const t = this.truth;
    return structuredClone({
      ...t,
      state: this.state,
      goodCounter: this.goodCounter,
      rejectCounter: this.rejectCounter,
      downtime: t.downtime.map((d) => (d.end === null ? { ...d, durationMs: now - d.start } : d)),
      byOrder: [...this.orders.values()],
    });
  }

  // ---- internals

  private reject(cmd: PackMlCommand, now: number): void {
    this.truth.rejectedCommands.push({ at: now, command: cmd, state: this.state });
    this.emit({ type: "commandRejected", machine: this.id, at: now, command: cmd, state: this.state });
  }

  private setReason(reason: StopReason): void {
    this.stopReason = reason;
    const open = this.truth.downtime.at(-1);
    if (open && open.end === null && open.reason === null) open.reason = reason;
  }

  private stop(reason: StopReason, kind: "hold" | "stop", durationMs: number | null, now: number): void {
    this.setReason(reason);
    this.apply(kind === "hold" ? "Hold" : "Stop", now);
    this.pendingDuration = durationMs;
  }

  private apply(cmd: PackMlCommand, now: number): void {
    this.setState(transition(this.state, cmd, this.id), cmd, now);
  }

  private setState(to: PackMlState, cause: TransitionCause, now: number): void {
    const from = this.state;
    if (from === "EXECUTE" && this.cycleDueAt !== null) {
      this.cycleRemaining = this.cycleDueAt - now;
      this.cycleDueAt = null;
    }
    this.state = to;
    this.truth.transitions.push({ at: now, from, to, cause });
    if (from === "EXECUTE" && to !== "COMPLETING") {
      this.truth.downtime.push({
        start: now,
        end: null,
        durationMs: 0,
        reason: this.stopReason,
        enteredState: to,
      });
    }
    if (to === "EXECUTE") {
      const open = this.truth.downtime.at(-1);
      if (open && open.end === null) {
        open.end = now;
        open.durationMs = now - open.start;
      }
      this.stopReason = null;
      this.pendingDuration = null;
      this.cycleDueAt = now + this.cycleRemaining;
    }
    if (to === "COMPLETE") this.cycleRemaining = this.cfg.cycleTimeMs; // a new run starts afresh
    this.actingUntil = completedState(to) !== undefined ? now + this.cfg.actingStateMs : null;
    if ((to === "HELD" || to === "STOPPED") && this.pendingDuration !== null) {
      this.recoverAt = now + this.pendingDuration;
      this.pendingDuration = null;
    }
    this.emit({
      type: "state",
      machine: this.id,
      at: now,
      state: to,
      previous: from,
      cause,
      stopReason: this.stopReason,
    });
  }

  private completeCycle(now: number): void {
    this.cycleRemaining = this.cfg.cycleTimeMs;
    this.cycleDueAt = now + this.cfg.cycleTimeMs;
    const isReject = this.prod.next() < this.cfg.rejectRate;
    const t = this.truth;
    t.cycles++;
    const key = JSON.stringify([this.order, this.lot]);
    let totals = this.orders.get(key);
    if (!totals) {
      totals = { order: this.order, lot: this.lot, good: 0, reject: 0 };
      this.orders.set(key, totals);
    }
    const max = this.cfg.counters.max;
    const counter = isReject ? "reject" : "good";
    const previous = isReject ? this.rejectCounter : this.goodCounter;
    const wrapped = previous >= max;
    const value = wrapped ? 0 : previous + 1;
    if (isReject) {
      t.reject++;
      totals.reject++;
      this.rejectCounter = value;
    } else {
      t.good++;
      totals.good++;
      this.goodCounter = value;
    }
    if (wrapped) t.rollovers[counter]++;
    this.emit({
      type: "counter",
      machine: this.id,
      at: now,
      counter,
      value,
      previous,
      cause: wrapped ? "rollover" : "cycle",
    });

    // A random stop after the cycle?
    if (this.cfg.stopReasons.length === 0) return;
    let u = this.prod.next();
    for (const r of this.cfg.stopReasons) {
      if (u < r.probability) {
        this.stop({ code: r.code, text: r.text ?? null }, r.kind, uniformInt(this.prod, r.durationMs), now);
        return;
      }
      u -= r.probability;
    }
  }

  private sample(now: number): void {
    const ooc = this.cfg.outOfControl;
    for (const tag of this.cfg.telemetry) {
      const center = tag.mean + (tag.driftPerHour * now) / 3_600_000;
      const z = gaussian(this.tel);
      let run = this.runs.get(tag.name);
      if (!run && ooc.probability > 0 && this.tel.next() < ooc.probability) {
        run = { remaining: ooc.length, direction: this.tel.next() < 0.5 ? -1 : 1 };
        this.runs.set(tag.name, run);
        this.truth.outOfControlRuns.push({
          tag: tag.name,
          start: now,
          length: ooc.length,
          direction: run.direction,
        });
      }
      let value: number;
      if (run) {
        // Every point of the run stays on one side of the centre line, at least shiftSd away.
        value = center + run.direction * tag.sd * (ooc.shiftSd + Math.abs(z));
        if (--run.remaining === 0) this.runs.delete(tag.name);
      } else value = center + tag.sd * z;
      this.lastValues[tag.name] = value;
      this.emit({
        type: "telemetry",
        machine: this.id,
        at: now,
        tag: tag.name,
        unit: tag.unit,
        value,
        outOfControl: run !== undefined,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The plant

export interface PlantModelOptions {
  /** Overrides the config's seed. */
  seed?: number;
}

export class PlantModel {
  readonly config: PlantConfig;
  readonly seed: number;
  private readonly machines = new Map<string, SimMachine>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly steps: ScenarioStep[];
  private stepIndex = 0;
  private clock = 0;
  private listenerError: unknown = undefined;

  /** `config` is validated here (a {@link ConfigError} names the offending key). */
  constructor(config: PlantConfigInput | PlantConfig, options: PlantModelOptions = {}) {
    this.config = parsePlantConfig(config);
    this.seed = options.seed ?? this.config.seed;
    const emit = (e: ChangeEvent) => this.emit(e);
    for (const site of this.config.sites)
      for (const line of site.lines)
        for (const m of line.machines)
          this.machines.set(m.id, new SimMachine(m, site.id, line.id, this.seed, emit));
    // Stable sort: steps at the same time run in file order.
    this.steps = [...this.config.scenario].sort((a, b) => a.at - b.at);
  }

  /** Virtual time, ms since the start. */
  get now(): number {
    return this.clock;
  }

  machineIds(): string[] {
    return [...this.machines.keys()];
  }

  /** Subscribes to every change; returns the unsubscribe function. Listeners are called synchronously. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Moves the virtual clock forward by `ms`, processing scenario steps, acting-state completions,
   * cycles, stops, recoveries and telemetry samples in time order (at equal times: scenario steps
   * first, then machines in config order). A listener's exception is rethrown once the step is done.
   */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(ms) needs a finite ms ≥ 0, got ${ms}`);
    const target = this.clock + ms;
    for (;;) {
      let t = Number.POSITIVE_INFINITY;
      const step = this.steps[this.stepIndex];
      if (step) t = step.at;
      for (const m of this.machines.values()) t = Math.min(t, m.nextDue());
      if (t > target) break;
      this.clock = Math.max(this.clock, t);
      this.runSteps();
      for (const m of this.machines.values()) m.processDue(this.clock);
    }
    this.clock = target;
    this.throwListenerError();
  }

  /** An external command (e.g. an OPC UA method call). Throws {@link IllegalTransitionError} when illegal. */
  command(machine: string, cmd: PackMlCommand, options: { reason?: StopReason } = {}): PackMlState {
    const state = this.get(machine).command(cmd, this.clock, options.reason ?? null);
    this.throwListenerError();
    return state;
  }

  /** Stops an executing machine with a stop reason; false (and a `commandRejected` event) when not in EXECUTE. */
  forceStop(machine: string, code: string, options: ForceStopOptions = {}): boolean {
    const done = this.get(machine).forceStop(code, options, this.clock);
    this.throwListenerError();
    return done;
  }

  /** Sets the current order and/or lot (undefined leaves one unchanged). */
  setOrder(machine: string, order: string | null | undefined, lot?: string | null): void {
    this.get(machine).setOrder(order, lot, this.clock);
    this.throwListenerError();
  }

  /** Simulates a PLC counter reset: both counters go to 0; the ground truth keeps the true totals. */
  resetCounters(machine: string): void {
    this.get(machine).resetCounters(this.clock);
    this.throwListenerError();
  }

  snapshot(machine: string): MachineSnapshot {
    const m = this.get(machine);
    const t = m.truth;
    return {
      id: m.id,
      site: t.site,
      line: t.line,
      state: m.state,
      stateNumber: stateNumber(m.state),
      goodCounter: m.goodCounter,
      rejectCounter: m.rejectCounter,
      counterMax: m.cfg.counters.max,
      cycleTimeMs: m.cfg.cycleTimeMs,
      order: m.order,
      lot: m.lot,
      stopReason: m.stopReason ? { ...m.stopReason } : null,
      telemetry: { ...m.lastValues },
    };
  }

  /** Per-machine truth (a copy), keyed by machine id, in config order. */
  groundTruth(): Record<string, MachineGroundTruth> {
    const out: Record<string, MachineGroundTruth> = {};
    for (const [id, m] of this.machines) out[id] = m.groundTruth(this.clock);
    return out;
  }

  private runSteps(): void {
    for (;;) {
      const step = this.steps[this.stepIndex];
      if (!step || step.at > this.clock) return;
      this.stepIndex++;
      const m = this.get(step.machine);
      switch (step.action) {
        case "command":
          m.tryScriptedCommand(step.command, this.clock);
          break;
        case "setOrder":
          m.setOrder(step.order, step.lot, this.clock);
          break;
        case "forceStop": {
          const opts: ForceStopOptions = {};
          if (step.text !== undefined) opts.text = step.text;
          if (step.kind !== undefined) opts.kind = step.kind;
          if (step.durationMs !== undefined) opts.durationMs = step.durationMs;
          m.forceStop(step.reason, opts, this.clock);
          break;
        }
        case "resetCounters":
          m.resetCounters(this.clock);
          break;
      }
    }
  }

  private get(machine: string): SimMachine {
    const m = this.machines.get(machine);
    if (!m) throw new UnknownMachineError(machine);
    return m;
  }

  private emit(event: ChangeEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        if (this.listenerError === undefined) this.listenerError = e;
      }
    }
  }

  private throwListenerError(): void {
    const e = this.listenerError;
    if (e === undefined) return;
    this.listenerError = undefined;
    throw e;
  }
}

export { IllegalTransitionError };
