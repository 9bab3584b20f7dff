/**
 * The order's state machine on its own (services/production-orchestrator/src/process.ts): the waits
 * that resume by themselves (quality hold, dead-lettered posting, routing), re-planning in Odoo, a
 * cancellation, budgets by step, line and product, and inputs applied once.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ProductionOrderChanged, ProductionOrderReleased } from "../../contracts/src/index.js";
import { budgetOf, StepBudgets } from "../../services/production-orchestrator/src/config.js";
import { LineClaims } from "../../services/production-orchestrator/src/main.js";
import {
  advance,
  fromRelease,
  type OrderInput,
  type OrderState,
  type ProcessRules,
  waitingFor,
} from "../../services/production-orchestrator/src/process.js";

const units = (value: string) => ({ value, uom: "Units" });
const T0 = Date.parse("2026-12-01T06:00:00Z");

function rules(o: Partial<ProcessRules> = {}): ProcessRules {
  return {
    lineOf: (wc, released) => released ?? (wc === "L2" ? "line2" : null),
    routingProblem: () => undefined,
    lotFor: () => null,
    claimLine: () => undefined,
    machinesOf: () => [],
    firstArticle: () => false,
    budgetOf: () => undefined,
    dispatchRetryMs: 1_000,
    ...o,
  };
}

function released(o: Partial<ProductionOrderReleased> = {}): OrderInput & { kind: "released" } {
  return {
    kind: "released",
    id: "rel-1",
    at: T0,
    value: {
      orderRef: "WH/MO/00001",
      odooOrderId: 1n,
      product: { code: "FIN-1", name: null, odooId: 9n },
      quantity: units("100"),
      plannedStartAt: new Date(T0),
      plannedEndAt: null,
      equipment: { site: "s", area: null, line: "line1", cell: null, machine: null },
      workCenterCode: "L1",
      lotToProduce: "LOT-1",
      components: [],
      origin: null,
      materials: null,
      releasedAt: new Date(T0),
      ...o,
    },
  };
}

function change(
  fields: ProductionOrderChanged["changedFields"],
  o: Partial<ProductionOrderChanged>,
  id: string,
) {
  return {
    kind: "changed",
    id,
    at: T0 + 1_000,
    value: {
      orderRef: "WH/MO/00001",
      odooOrderId: 1n,
      changedFields: fields,
      quantity: null,
      plannedStartAt: null,
      plannedEndAt: null,
      state: null,
      previousState: null,
      equipment: null,
      workCenterCode: null,
      lotToProduce: null,
      materials: null,
      changedAt: new Date(T0 + 1_000),
      ...o,
    },
  } as const;
}

/** Applies inputs in turn; the published events' types, in order. */
function run(r: ProcessRules, ...inputs: OrderInput[]): { state: OrderState; published: string[] } {
  const first = inputs[0] as OrderInput & { kind: "released" };
  let state = fromRelease(first);
  const published: string[] = [];
  for (const input of inputs) {
    const next = advance(state, input, r);
    state = next.state;
    published.push(...next.publish.map((p) => p.type.split(".")[2] as string));
  }
  return { state, published };
}

describe("orchestrator process", () => {
  test("a line announced only (no machines take writes): released straight to DISPATCHED, with the lot the site's convention names", () => {
    const { state, published } = run(
      rules({ lotFor: () => "LOT-WH-MO-00001" }),
      released({ lotToProduce: null }),
    );
    assert.equal(state.step, "DISPATCHED");
    assert.equal(state.lot, "LOT-WH-MO-00001");
    // One event per step passed (released, checked, dispatching, dispatched), then the dispatch.
    assert.deepEqual(published, [
      "order_step_changed",
      "order_step_changed",
      "order_step_changed",
      "order_step_changed",
      "order_dispatched",
    ]);
  });

  test("a quality hold on the lot makes a running order wait for INSPECTION until every hold is released", () => {
    const report = {
      kind: "reported",
      id: "rep-1",
      at: T0 + 2_000,
      value: { countingPoint: true, equipment: { line: "line1", machine: "m1" }, lot: "LOT-1" },
    } as unknown as OrderInput;
    const hold = (id: string, holdId: string): OrderInput => ({
      kind: "holdPlaced",
      id,
      at: T0 + 3_000,
      holdId,
      reason: "seal test failed",
    });
    const release = (id: string, holdId: string): OrderInput => ({
      kind: "holdReleased",
      id,
      at: T0 + 4_000,
      holdId,
    });
    const { state } = run(
      rules(),
      released(),
      report,
      hold("h1", "Q1"),
      hold("h2", "Q2"),
      release("r1", "Q1"),
    );
    assert.equal(state.step, "RUNNING");
    assert.equal(waitingFor(state), "INSPECTION");
    assert.match(state.waits.INSPECTION ?? "", /Q2/);
    const after = advance(state, release("r2", "Q2"), rules()).state;
    assert.equal(waitingFor(after), null);
  });

  test("a dead-lettered posting makes the order wait for POSTING until that posting goes through", () => {
    const dead: OrderInput = {
      kind: "postingDeadLettered",
      id: "dl-1",
      at: T0,
      sourceEventId: "rep-9",
      reason: "CONNECTOR_ORDER_NOT_FOUND",
    };
    const posted = {
      kind: "posted",
      id: "p-1",
      at: T0,
      value: { sourceEventId: "rep-9", postedGoodQuantity: units("10") },
    } as unknown as OrderInput;
    const waiting = run(rules(), released(), dead).state;
    assert.equal(waitingFor(waiting), "POSTING");
    assert.equal(waitingFor(advance(waiting, posted, rules()).state), null);
  });

  test("no line for the work centre: it waits for ROUTING, and is routed once the mapping knows it (sweep)", () => {
    let line: string | null = null;
    const r = rules({ lineOf: () => line });
    const waiting = run(
      r,
      released({ equipment: { site: "s", area: null, line: null, cell: null, machine: null } }),
    ).state;
    assert.equal(waitingFor(waiting), "ROUTING");
    line = "line3";
    const routed = advance(waiting, { kind: "tick", at: T0 + 5_000 }, r).state;
    assert.equal(routed.step, "DISPATCHED");
    assert.equal(routed.line, "line3");
  });

  test("re-planned onto another line before it runs: dispatched again there; a cancellation ends it", () => {
    const r = rules({ machinesOf: (l) => (l === "line2" ? ["m2"] : []) });
    const moved = run(
      r,
      released(),
      change(["EQUIPMENT", "WORK_CENTER"], { equipment: null, workCenterCode: "L2" }, "c1"),
    );
    // The release's line still wins over the work centre here: the connector sends both together.
    const again = advance(
      moved.state,
      change(
        ["EQUIPMENT"],
        { equipment: { site: "s", area: null, line: "line2", cell: null, machine: null } },
        "c2",
      ),
      r,
    );
    assert.equal(again.state.step, "DISPATCHING");
    assert.equal(again.dispatch?.line, "line2");
    assert.deepEqual(again.dispatch?.machines, ["m2"]);
    const cancelled = advance(again.state, change(["STATE"], { state: "CANCEL" }, "c3"), r).state;
    assert.equal(cancelled.step, "CANCELLED");
    assert.equal(
      advance(cancelled, { kind: "tick", at: T0 + 99_999_999 }, r).publish.length,
      0,
      "nothing after the end",
    );
  });

  test("an input applied once: the same id again changes nothing and publishes nothing", () => {
    const r = rules();
    const first = advance(fromRelease(released()), released(), r);
    const again = advance(first.state, released(), r);
    assert.equal(again.changed, false);
    assert.equal(again.publish.length, 0);
    assert.deepEqual(again.state, first.state);
  });

  test("one order per line: a second order for a busy line queues, and is dispatched when the first completes", () => {
    const claims = new LineClaims();
    const r = rules({ claimLine: (line, ref) => claims.claim(line, ref), machinesOf: () => ["m1"] });
    const step = (s: OrderState, input: OrderInput) => {
      const next = advance(s, input, r);
      claims.update(next.state);
      return next;
    };
    const a = step(fromRelease(released()), released());
    assert.equal(a.dispatch?.order, "WH/MO/00001");
    const bRelease = released({ orderRef: "WH/MO/00002", odooOrderId: 2n });
    const b = step(fromRelease({ ...bRelease, id: "rel-2" }), { ...bRelease, id: "rel-2" });
    assert.equal(b.dispatch, undefined, "nothing written to the machines running the first order");
    assert.equal(b.state.step, "DISPATCHING");
    assert.match(b.state.waits.DISPATCH ?? "", /line1 runs WH\/MO\/00001/);
    assert.equal(
      step(b.state, { kind: "tick", at: T0 + 1_000 }).publish.length,
      0,
      "still busy: no event per tick",
    );
    const ended = {
      kind: "runEnded",
      id: "end-1",
      at: T0 + 2_000,
      value: { reason: "ORDER_CHANGE" },
    } as unknown as OrderInput;
    const running = step(a.state, {
      kind: "dispatchAnswered",
      at: T0,
      line: "line1",
      attempt: 1,
      answers: [{ machine: "m1", outcome: "CONFIRMED", message: null }],
    });
    const reported = {
      kind: "reported",
      id: "rep-a",
      at: T0 + 1_500,
      value: { countingPoint: true, equipment: { line: "line1", machine: "m1" }, lot: null },
    } as unknown as OrderInput;
    const done = step(step(running.state, reported).state, ended);
    assert.equal(done.state.step, "COMPLETED");
    const freed = step(b.state, { kind: "tick", at: T0 + 3_000 });
    assert.equal(freed.dispatch?.order, "WH/MO/00002");
    assert.equal(waitingFor(freed.state), null);
  });

  test("budgets: the product's beats the line's, which beats the default, which beats the built-in", () => {
    const b = StepBudgets.parse({
      default: { RUNNING: "10h" },
      lines: { line1: { RUNNING: "8h", DISPATCHED: "20m" } },
      products: { "FIN-1": { RUNNING: "2h" } },
    });
    assert.equal(budgetOf(b, "RUNNING", "line1", "FIN-1"), 2 * 3_600_000);
    assert.equal(budgetOf(b, "RUNNING", "line1", "FIN-2"), 8 * 3_600_000);
    assert.equal(budgetOf(b, "RUNNING", "line2", "FIN-2"), 10 * 3_600_000);
    assert.equal(budgetOf(b, "MATERIAL_CHECK", "line2", "FIN-2"), 30 * 60_000);
    assert.equal(budgetOf(b, "SHIPPED", "line2", "FIN-2"), undefined);
    assert.throws(() => StepBudgets.parse({ default: { RUNNING: "soon" } }), /duration/);
  });

  test("a step past its budget publishes one OrderStepOverdue per visit", () => {
    const r = rules({ budgetOf: (step) => (step === "DISPATCHED" ? 60_000 : undefined) });
    const s = run(r, released()).state;
    const early = advance(s, { kind: "tick", at: T0 + 30_000 }, r);
    assert.equal(early.publish.length, 0);
    const late = advance(s, { kind: "tick", at: T0 + 61_000 }, r);
    assert.deepEqual(
      late.publish.map((p) => p.type),
      ["mfg.production.order_step_overdue.v1"],
    );
    assert.equal(advance(late.state, { kind: "tick", at: T0 + 120_000 }, r).publish.length, 0);
  });
});
