/**
 * The process of one production order, as a pure state machine: `advance(state, input, rules)` gives
 * the next state and what must happen (events to publish, a dispatch to send). No I/O here: main.ts
 * reads and writes the state (KV, compare-and-set), performs the outputs and feeds their answers back.
 *
 *   RELEASED → MATERIAL_CHECK ─(components reserved)→ DISPATCHING ─(machines confirm)→ DISPATCHED
 *     ─(first count of the counting point)→ RUNNING ─(planned quantity posted, or the run ends)→ COMPLETED
 *     ─(done in Odoo)→ CLOSED ─(a delivery of its lot)→ SHIPPED;   CANCELLED from any step (Odoo).
 *
 * Besides its step an order may wait, for one or more things at once: MATERIAL (a shortage), ROUTING
 * (no line for its work centre), DISPATCH (a machine refused or did not confirm), LINE_DOWN (its line
 * stopped past the threshold), INSPECTION (a quality hold on its lot), POSTING (a posting of it
 * dead-lettered). Each wait names what resolves it and clears by itself when that happens.
 *
 * Every output carries an id derived from the order, the step visit or the causing event: a replay or
 * a redelivery gives the same ids, so nothing is published or dispatched twice (the stream and the
 * bridge drop the copies), and an input already applied (its id in `applied`) changes nothing.
 */
import type {
  GoodsMovementPosted,
  MachineDispatch,
  MaterialAvailability,
  OrderStep,
  ProductionOrderChanged,
  ProductionOrderCompleted,
  ProductionOrderReleased,
  ProductionPosted,
  ProductionReported,
  ProductionRunEnded,
  Quantity,
  WaitReason,
} from "../../../contracts/src/index.js";
import { derivedEventId, formatMicros, microsOf } from "../../../streams/src/index.js";

/** Steps after which nothing happens any more. */
export const FINAL_STEPS: ReadonlySet<OrderStep> = new Set(["SHIPPED", "CANCELLED"]);
/** The order of the steps, to tell "before" from "after". */
const RANK: Readonly<Record<OrderStep, number>> & Record<string, number> = {
  UNKNOWN: -1,
  RELEASED: 0,
  MATERIAL_CHECK: 1,
  DISPATCHING: 2,
  DISPATCHED: 3,
  RUNNING: 4,
  COMPLETED: 5,
  CLOSED: 6,
  SHIPPED: 7,
  CANCELLED: 8,
};
/** When several waits hold an order, the one its step events name first. */
const WAIT_PRIORITY: readonly WaitReason[] = [
  "ROUTING",
  "MATERIAL",
  "DISPATCH",
  "LINE_DOWN",
  "INSPECTION",
  "POSTING",
];
const KEEP_APPLIED = 500;
const KEEP_HISTORY = 50;

/** One order's process, as kept (JSON: bigints as strings). */
export interface OrderState {
  readonly orderRef: string;
  readonly odooOrderId: string;
  readonly site: string;
  /** The line it is dispatched to (or routed to); null before routing. */
  readonly line: string | null;
  readonly workCenterCode: string | null;
  readonly product: { readonly code: string; readonly name: string | null; readonly odooId: string | null };
  readonly quantity: Quantity;
  readonly lot: string | null;
  /** Odoo's planned start (ms): a line's waiting orders are dispatched in this order. */
  readonly plannedStartAt: number;
  /** The line it waits for while another order holds it; null otherwise. */
  readonly queuedFor: string | null;
  readonly step: OrderStep;
  /** When it entered its step (ms): the step's budget counts from here. */
  readonly enteredAt: number;
  /** Increments with every transition: output ids derive from it. */
  readonly visit: number;
  /** What it waits for, with the reason for people. */
  readonly waits: Readonly<Partial<Record<WaitReason, string>>>;
  readonly waitingSince: number | null;
  readonly materials: MaterialAvailability | null;
  /** Good quantity Odoo accepted (ProductionPosted), in the order's unit, exact. */
  readonly posted: string;
  readonly dispatch: {
    readonly line: string;
    readonly attempts: number;
    readonly lastAttemptAt: number;
    readonly answers: readonly MachineDispatch[];
  } | null;
  readonly inspectionRequested: boolean;
  /** Open quality holds on its lot: hold id → reason. */
  readonly holds: Readonly<Record<string, string>>;
  /** Dead-lettered postings: source event id → code and message. */
  readonly deadLettered: Readonly<Record<string, string>>;
  /** The visit an OrderStepOverdue was published for (once per visit). */
  readonly overdueVisit: number | null;
  readonly history: readonly {
    readonly step: OrderStep;
    readonly waitingFor: WaitReason | null;
    readonly at: number;
    readonly reason: string | null;
  }[];
  /** Ids of the inputs applied lately: a redelivery or a replay is recognised. */
  readonly applied: readonly string[];
}

/** What happens to an order, from the streams, the bridge's answers, or the clock. */
export type OrderInput =
  | {
      readonly kind: "released";
      readonly id: string;
      readonly at: number;
      readonly value: ProductionOrderReleased;
    }
  | {
      readonly kind: "changed";
      readonly id: string;
      readonly at: number;
      readonly value: ProductionOrderChanged;
    }
  | {
      readonly kind: "reported";
      readonly id: string;
      readonly at: number;
      readonly value: ProductionReported;
    }
  | { readonly kind: "posted"; readonly id: string; readonly at: number; readonly value: ProductionPosted }
  | {
      readonly kind: "runEnded";
      readonly id: string;
      readonly at: number;
      readonly value: ProductionRunEnded;
    }
  | {
      readonly kind: "completed";
      readonly id: string;
      readonly at: number;
      readonly value: ProductionOrderCompleted;
    }
  | {
      readonly kind: "shipped";
      readonly id: string;
      readonly at: number;
      readonly value: GoodsMovementPosted;
    }
  | {
      readonly kind: "holdPlaced";
      readonly id: string;
      readonly at: number;
      readonly holdId: string;
      readonly reason: string;
    }
  | { readonly kind: "holdReleased"; readonly id: string; readonly at: number; readonly holdId: string }
  | {
      readonly kind: "postingDeadLettered";
      readonly id: string;
      readonly at: number;
      readonly sourceEventId: string;
      readonly reason: string;
    }
  | { readonly kind: "lineDown"; readonly at: number; readonly since: number; readonly reason: string }
  | { readonly kind: "lineUp"; readonly at: number }
  | {
      readonly kind: "dispatchAnswered";
      readonly at: number;
      readonly line: string;
      readonly attempt: number;
      readonly answers: readonly MachineDispatch[];
    }
  | { readonly kind: "tick"; readonly at: number };

/** What the process needs to know of the plant and its configuration. */
export interface ProcessRules {
  /** The line of a work centre: the connector's mapping or the orchestrator's own. */
  lineOf(workCenterCode: string | null, releasedLine: string | null): string | null;
  /** Why an order cannot be routed (unknown work centre, product without a BoM), or undefined. */
  routingProblem(order: OrderState): string | undefined;
  /**
   * The lot an order without one produces into, named by the site's convention (a lot-tracked
   * product), or null (untracked, or Odoo assigns it). Asked once, when the order is routed.
   */
  lotFor(order: OrderState): string | null;
  /**
   * One order per line at a time: the order holding `line` other than `orderRef`, or undefined —
   * and then the line is `orderRef`'s (the caller keeps the claims: main.ts).
   */
  claimLine(line: string, orderRef: string): string | undefined;
  /** The machines of a line that take the order write (empty: the line is announced only). */
  machinesOf(line: string): readonly string[];
  /** Whether the product's inspection plan asks a first-article inspection. */
  firstArticle(productCode: string): boolean;
  /** The budget of a step for this order (ms), or undefined for none. */
  budgetOf(step: OrderStep, order: OrderState): number | undefined;
  /** How long after an unconfirmed dispatch it is sent again. */
  readonly dispatchRetryMs: number;
}

/** An event to publish: its type, payload and id (derived, so replays give the same). */
export type Publish =
  | { readonly type: "mfg.production.order_step_changed.v1"; readonly id: string; readonly value: unknown }
  | {
      readonly type: "mfg.production.material_shortage_detected.v1";
      readonly id: string;
      readonly value: unknown;
    }
  | { readonly type: "mfg.production.order_dispatched.v1"; readonly id: string; readonly value: unknown }
  | { readonly type: "mfg.production.order_step_overdue.v1"; readonly id: string; readonly value: unknown }
  | { readonly type: "mfg.quality.inspection_requested.v1"; readonly id: string; readonly value: unknown };

/** The order and lot to write to a line's machines. */
export interface DispatchRequest {
  readonly line: string;
  readonly machines: readonly string[];
  readonly order: string;
  readonly lot: string | null;
  /** The bridge runs one request id once: derived from the order, the line and the attempt. */
  readonly requestKey: string;
  readonly attempt: number;
}

export interface Advanced {
  readonly state: OrderState;
  readonly publish: readonly Publish[];
  readonly dispatch: DispatchRequest | undefined;
  /** False when the input changed nothing (already applied, or irrelevant to this order). */
  readonly changed: boolean;
}

/** A new order's state from its release. */
export function fromRelease(input: Extract<OrderInput, { kind: "released" }>): OrderState {
  const r = input.value;
  return {
    orderRef: r.orderRef,
    odooOrderId: String(r.odooOrderId),
    site: r.equipment.site,
    line: r.equipment.line,
    workCenterCode: r.workCenterCode,
    product: {
      code: r.product.code,
      name: r.product.name,
      odooId: r.product.odooId === null ? null : String(r.product.odooId),
    },
    quantity: r.quantity,
    lot: r.lotToProduce,
    plannedStartAt: r.plannedStartAt.getTime(),
    queuedFor: null,
    step: "UNKNOWN",
    enteredAt: input.at,
    visit: 0,
    waits: {},
    waitingSince: null,
    materials: r.materials,
    posted: "0",
    dispatch: null,
    inspectionRequested: false,
    holds: {},
    deadLettered: {},
    overdueVisit: null,
    history: [],
    applied: [],
  };
}

/** The wait its events name: the first by priority. */
export function waitingFor(state: OrderState): WaitReason | null {
  return WAIT_PRIORITY.find((w) => state.waits[w] !== undefined) ?? null;
}

/** Applies one input. Pure: the same state and input give the same result. */
export function advance(state: OrderState, input: OrderInput, rules: ProcessRules): Advanced {
  const id = "id" in input ? input.id : undefined;
  if (id !== undefined && state.applied.includes(id))
    return { state, publish: [], dispatch: undefined, changed: false };
  const t = new Transition(state, input.at, id);
  apply(t, input, rules);
  return t.result(id);
}

/** Collects the changes of one input: steps, waits, outputs. */
class Transition {
  s: OrderState;
  readonly publish: Publish[] = [];
  dispatch: DispatchRequest | undefined;
  /** Each (step, wait) the order passed through during this input, in order: one event each. */
  private readonly trail: { step: OrderStep; wait: WaitReason | null; reason: string | null }[] = [];
  private readonly before: { step: OrderStep; wait: WaitReason | null };
  private touched = false;

  constructor(
    start: OrderState,
    readonly at: number,
    readonly cause: string | undefined,
  ) {
    this.s = start;
    this.before = { step: start.step, wait: waitingFor(start) };
  }

  set(patch: Partial<OrderState>): void {
    this.s = { ...this.s, ...patch };
    this.touched = true;
  }

  to(step: OrderStep, reason: string | null = null): void {
    if (this.s.step === step) return;
    this.set({ step, enteredAt: this.at, overdueVisit: null });
    this.record(reason);
  }

  wait(reason: WaitReason, text: string): void {
    if (this.s.waits[reason] === text) return;
    const waits = { ...this.s.waits, [reason]: text };
    this.set({ waits, waitingSince: this.s.waitingSince ?? this.at });
    this.record(text);
  }

  resume(reason: WaitReason, why: string | null = null): void {
    if (this.s.waits[reason] === undefined) return;
    const waits = { ...this.s.waits };
    delete waits[reason];
    this.set({ waits, waitingSince: Object.keys(waits).length > 0 ? this.s.waitingSince : null });
    this.record(why);
  }

  emit(p: Publish): void {
    this.publish.push(p);
    this.touched = true;
  }

  /**
   * Notes the (step, wait) reached, when it differs from the last one noted. Within one input a step
   * is noted once, with its last wait (entering a step and finding what it waits for is one
   * transition), and a wait of the starting step that clears as the order leaves it is not noted
   * apart (the next step's event says it).
   */
  private record(reason: string | null): void {
    const wait = waitingFor(this.s);
    const last = this.trail.at(-1) ?? this.before;
    if (this.s.step === last.step && wait === last.wait) return;
    const entry = {
      step: this.s.step,
      wait,
      reason: wait !== null ? (this.s.waits[wait] ?? reason) : reason,
    };
    const prev = this.trail.at(-1);
    if (prev && prev.step === entry.step) {
      this.trail.pop();
      const before = this.trail.at(-1) ?? this.before;
      // Back where it was before this step's entry: nothing to say.
      if (!(before.step === entry.step && before.wait === entry.wait)) this.trail.push(entry);
    } else if (prev && prev.step === this.before.step && prev.wait === null && this.trail.length === 1)
      this.trail[0] = entry;
    else this.trail.push(entry);
  }

  result(id: string | undefined): Advanced {
    const steps: Publish[] = [];
    let previous = this.before.step;
    for (const change of this.trail) {
      const visit = this.s.visit + 1;
      this.set({
        visit,
        history: [
          ...this.s.history,
          { step: change.step, waitingFor: change.wait, at: this.at, reason: change.reason },
        ].slice(-KEEP_HISTORY),
      });
      steps.push({
        type: "mfg.production.order_step_changed.v1",
        id: derived(this.s.orderRef, "step", visit),
        value: {
          orderRef: this.s.orderRef,
          odooOrderId: BigInt(this.s.odooOrderId),
          equipment: equipment(this.s),
          step: change.step,
          previousStep: previous === "UNKNOWN" ? null : previous,
          waitingFor: change.wait,
          reason: change.reason,
          lot: this.s.lot,
          causeEventId: this.cause ?? null,
          changedAt: new Date(this.at),
        },
      });
      previous = change.step;
    }
    // The transitions first, then what they led to (a shortage, a dispatch's answers, an inspection).
    this.publish.unshift(...steps);
    if (id !== undefined) this.set({ applied: [...this.s.applied, id].slice(-KEEP_APPLIED) });
    return { state: this.s, publish: this.publish, dispatch: this.dispatch, changed: this.touched };
  }
}

function apply(t: Transition, input: OrderInput, rules: ProcessRules): void {
  const s = t.s;
  if (FINAL_STEPS.has(s.step) && input.kind !== "tick") return;
  switch (input.kind) {
    case "released":
      if (s.step === "UNKNOWN") {
        t.to("RELEASED");
        checkMaterial(t, rules);
      }
      return;
    case "changed":
      changed(t, input.value, rules);
      return;
    case "reported": {
      const r = input.value;
      if (!r.countingPoint) return;
      if (RANK[s.step] < RANK.RUNNING && RANK[s.step] >= RANK.RELEASED) {
        // The line runs it: whatever a wait before said (material, dispatch), it is settled on the floor.
        for (const w of ["MATERIAL", "DISPATCH", "ROUTING"] as const)
          t.resume(w, `the line reports counts for it (${r.equipment.machine ?? r.equipment.line})`);
        if (r.equipment.line !== null && s.line !== r.equipment.line) t.set({ line: r.equipment.line });
        t.to("RUNNING", `first count at ${r.equipment.machine ?? "the counting point"}`);
        if (!t.s.inspectionRequested && rules.firstArticle(s.product.code)) {
          t.set({ inspectionRequested: true });
          t.emit({
            type: "mfg.quality.inspection_requested.v1",
            id: derived(s.orderRef, "inspection", "FIRST_ARTICLE"),
            value: {
              orderRef: s.orderRef,
              equipment: r.equipment,
              product: productRef(s),
              lot: r.lot ?? s.lot,
              kind: "FIRST_ARTICLE",
              requestedAt: new Date(input.at),
            },
          });
        }
      }
      return;
    }
    case "posted": {
      const p = input.value;
      if (t.s.deadLettered[p.sourceEventId] !== undefined) {
        const deadLettered = { ...t.s.deadLettered };
        delete deadLettered[p.sourceEventId];
        t.set({ deadLettered });
        if (Object.keys(deadLettered).length === 0)
          t.resume("POSTING", "the dead-lettered posting went through");
        else t.wait("POSTING", Object.values(deadLettered)[0] as string);
      }
      const posted = formatMicros(microsOf(t.s.posted) + microsOf(p.postedGoodQuantity.value));
      t.set({ posted });
      if (t.s.step === "RUNNING" && microsOf(posted) >= microsOf(t.s.quantity.value))
        t.to("COMPLETED", `planned quantity posted (${posted} of ${t.s.quantity.value} ${t.s.quantity.uom})`);
      return;
    }
    case "runEnded":
      if (t.s.step === "RUNNING") t.to("COMPLETED", `run ended: ${input.value.reason}`);
      return;
    case "completed":
      if (RANK[t.s.step] < RANK.CLOSED) t.to("CLOSED", "done in Odoo");
      clearFloorWaits(t, "the order is done in Odoo");
      return;
    case "shipped":
      if (t.s.step === "COMPLETED" || t.s.step === "CLOSED")
        t.to("SHIPPED", `delivered in ${input.value.pickingRef ?? "a delivery"}`);
      return;
    case "holdPlaced": {
      const holds = { ...t.s.holds, [input.holdId]: input.reason };
      t.set({ holds });
      t.wait("INSPECTION", `quality hold ${input.holdId}: ${input.reason}`);
      return;
    }
    case "holdReleased": {
      if (t.s.holds[input.holdId] === undefined) return;
      const holds = { ...t.s.holds };
      delete holds[input.holdId];
      t.set({ holds });
      const left = Object.entries(holds)[0];
      if (left) t.wait("INSPECTION", `quality hold ${left[0]}: ${left[1]}`);
      else t.resume("INSPECTION", `quality hold ${input.holdId} released`);
      return;
    }
    case "postingDeadLettered":
      t.set({ deadLettered: { ...t.s.deadLettered, [input.sourceEventId]: input.reason } });
      t.wait("POSTING", input.reason);
      return;
    case "lineDown":
      if (t.s.step === "DISPATCHED" || t.s.step === "RUNNING")
        t.wait(
          "LINE_DOWN",
          `line ${t.s.line} down since ${new Date(input.since).toISOString()}: ${input.reason}`,
        );
      return;
    case "lineUp":
      t.resume("LINE_DOWN", `line ${t.s.line} runs again`);
      return;
    case "dispatchAnswered":
      answered(t, input);
      return;
    case "tick":
      tick(t, rules);
      return;
  }
}

function changed(t: Transition, c: ProductionOrderChanged, rules: ProcessRules): void {
  const has = (f: ProductionOrderChanged["changedFields"][number]) => c.changedFields.includes(f);
  if (has("QUANTITY") && c.quantity) t.set({ quantity: c.quantity });
  if (has("PLANNED_START") && c.plannedStartAt) t.set({ plannedStartAt: c.plannedStartAt.getTime() });
  if (has("LOT_TO_PRODUCE")) t.set({ lot: c.lotToProduce });
  if (has("MATERIALS")) t.set({ materials: c.materials });
  if (has("STATE") && c.state === "CANCEL") {
    clearFloorWaits(t, "cancelled in Odoo");
    t.to("CANCELLED", "cancelled in Odoo");
    return;
  }
  if (has("STATE") && c.state === "DONE" && RANK[t.s.step] < RANK.CLOSED) {
    clearFloorWaits(t, "done in Odoo");
    t.to("CLOSED", "done in Odoo");
    return;
  }
  const rerouted = has("EQUIPMENT") || has("WORK_CENTER");
  if (has("WORK_CENTER")) t.set({ workCenterCode: c.workCenterCode });
  if (has("EQUIPMENT") && c.equipment) t.set({ line: c.equipment.line });
  if (t.s.step === "MATERIAL_CHECK" && (has("MATERIALS") || rerouted)) {
    checkMaterial(t, rules);
    return;
  }
  if (rerouted && (t.s.step === "DISPATCHING" || t.s.step === "DISPATCHED")) {
    // Re-planned onto another line before it ran: dispatched again there.
    t.resume("DISPATCH");
    route(t, rules, "re-planned in Odoo");
  }
}

/** The wait states the floor or Odoo settles once the order is over. */
function clearFloorWaits(t: Transition, why: string): void {
  for (const w of ["MATERIAL", "ROUTING", "DISPATCH", "LINE_DOWN"] as const) t.resume(w, why);
}

function checkMaterial(t: Transition, rules: ProcessRules): void {
  t.to("MATERIAL_CHECK");
  const m = t.s.materials;
  if (m !== null && m.state !== "AVAILABLE") {
    const shortages = m.components
      .filter((c) => microsOf(c.reserved.value) < microsOf(c.required.value))
      .map((c) => ({
        product: c.product,
        required: c.required,
        reserved: c.reserved,
        missing: {
          value: formatMicros(microsOf(c.required.value) - microsOf(c.reserved.value)),
          uom: c.required.uom,
        },
      }));
    const text = shortages.length
      ? `components not reserved in Odoo: ${shortages.map((x) => `${x.product.code} ${Number(x.missing.value)} ${x.missing.uom} missing`).join(", ")}`
      : `components not reserved in Odoo (${m.state})`;
    if (t.s.waits.MATERIAL !== text)
      t.emit({
        type: "mfg.production.material_shortage_detected.v1",
        id: derived(t.s.orderRef, "shortage", text),
        value: {
          orderRef: t.s.orderRef,
          odooOrderId: BigInt(t.s.odooOrderId),
          equipment: equipment(t.s),
          product: productRef(t.s),
          shortages,
          detectedAt: new Date(t.at),
        },
      });
    t.wait("MATERIAL", text);
    return;
  }
  t.resume(
    "MATERIAL",
    m === null ? "availability not published by the connector: not checked" : "components reserved",
  );
  route(
    t,
    rules,
    m === null ? "component availability not published: not checked" : "components reserved in Odoo",
  );
}

function route(t: Transition, rules: ProcessRules, why: string): void {
  const line = rules.lineOf(t.s.workCenterCode, t.s.line);
  const problem =
    line === null
      ? t.s.workCenterCode === null
        ? "the order has no routing (no work centre): no line can run it"
        : `no line runs work centre ${t.s.workCenterCode} (the connector's WORKCENTER_BY_LINE, or LINE_BY_WORKCENTER)`
      : rules.routingProblem(t.s);
  if (problem !== undefined || line === null) {
    t.wait("ROUTING", problem ?? "no line");
    return;
  }
  t.resume("ROUTING", `routed to ${line}`);
  t.set({ line });
  if (t.s.lot === null) t.set({ lot: rules.lotFor(t.s) });
  t.to("DISPATCHING", why);
  const holder = rules.claimLine(line, t.s.orderRef);
  if (holder !== undefined) {
    // Writing it now would take the line's machines from the order they run: it queues.
    t.set({ queuedFor: line, dispatch: null });
    t.wait("DISPATCH", `${line} runs ${holder}: dispatched when that order completes`);
    return;
  }
  t.set({ queuedFor: null });
  sendDispatch(t, rules, line, 1);
}

function sendDispatch(t: Transition, rules: ProcessRules, line: string, attempt: number): void {
  const machines = rules.machinesOf(line);
  t.set({ dispatch: { line, attempts: attempt, lastAttemptAt: t.at, answers: [] } });
  if (machines.length === 0) {
    // A line whose machines take no writes: the dispatch is an announcement for its HMI or MES.
    answered(t, { kind: "dispatchAnswered", at: t.at, line, attempt, answers: [] });
    return;
  }
  t.dispatch = {
    line,
    machines,
    order: t.s.orderRef,
    lot: t.s.lot,
    requestKey: [t.s.orderRef, line, t.s.lot ?? "", attempt].join("|"),
    attempt,
  };
}

function answered(t: Transition, a: Extract<OrderInput, { kind: "dispatchAnswered" }>): void {
  const d = t.s.dispatch;
  if (t.s.step !== "DISPATCHING" || !d || d.line !== a.line || d.attempts !== a.attempt) return;
  t.set({ dispatch: { ...d, answers: a.answers } });
  t.emit({
    type: "mfg.production.order_dispatched.v1",
    id: derived(t.s.orderRef, "dispatched", a.line, a.attempt),
    value: {
      orderRef: t.s.orderRef,
      odooOrderId: BigInt(t.s.odooOrderId),
      equipment: equipment(t.s),
      lot: t.s.lot,
      product: productRef(t.s),
      quantity: t.s.quantity,
      workCenterCode: t.s.workCenterCode ?? "",
      machines: a.answers,
      dispatchedAt: new Date(a.at),
    },
  });
  const failed = a.answers.filter((x) => x.outcome !== "CONFIRMED");
  if (failed.length > 0) {
    t.wait(
      "DISPATCH",
      `attempt ${a.attempt}: ${failed.map((x) => `${x.machine} ${x.outcome}${x.message ? ` (${x.message})` : ""}`).join(", ")}`,
    );
    return;
  }
  t.resume("DISPATCH", "every machine confirmed");
  t.to(
    "DISPATCHED",
    a.answers.length
      ? `confirmed by ${a.answers.map((x) => x.machine).join(", ")}`
      : `announced to ${a.line}`,
  );
}

function tick(t: Transition, rules: ProcessRules): void {
  const s = t.s;
  // Queued behind another order: the line may be free now.
  if (s.step === "DISPATCHING" && s.queuedFor !== null) {
    if (rules.claimLine(s.queuedFor, s.orderRef) === undefined) {
      const line = s.queuedFor;
      t.set({ queuedFor: null });
      t.resume("DISPATCH", `${line} is free`);
      sendDispatch(t, rules, line, 1);
    }
  }
  // Not confirmed (or never answered: a restart between the write and the answer): sent again.
  else if (s.step === "DISPATCHING" && s.dispatch && t.at - s.dispatch.lastAttemptAt >= rules.dispatchRetryMs)
    sendDispatch(t, rules, s.dispatch.line, s.dispatch.attempts + 1);
  // Unroutable: the master data or the mapping may have been fixed since.
  if (s.step === "MATERIAL_CHECK" && s.waits.ROUTING !== undefined && s.waits.MATERIAL === undefined)
    route(t, rules, "routable now");
  const budget = rules.budgetOf(s.step, s);
  if (budget === undefined || s.overdueVisit === s.visit || t.at - s.enteredAt < budget) return;
  const wait = waitingFor(s);
  t.set({ overdueVisit: s.visit });
  t.emit({
    type: "mfg.production.order_step_overdue.v1",
    id: derived(s.orderRef, "overdue", s.visit),
    value: {
      orderRef: s.orderRef,
      odooOrderId: BigInt(s.odooOrderId),
      equipment: equipment(s),
      step: s.step,
      waitingFor: wait,
      reason: wait !== null ? (s.waits[wait] ?? null) : null,
      enteredAt: new Date(s.enteredAt),
      budgetSeconds: BigInt(Math.round(budget / 1000)),
      overdueAt: new Date(t.at),
    },
  });
}

function equipment(s: OrderState) {
  return { site: s.site, area: null, line: s.line, cell: null, machine: null };
}

function productRef(s: OrderState) {
  return {
    code: s.product.code,
    name: s.product.name,
    odooId: s.product.odooId === null ? null : BigInt(s.product.odooId),
  };
}

/** An output id: derived from its parts, so a replay or a redelivery gives the same. */
function derived(...parts: readonly (string | number)[]): string {
  return derivedEventId("production-orchestrator", ...parts);
}
