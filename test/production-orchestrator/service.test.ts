/**
 * The production orchestrator against a real nats-server with the platform's declarations applied: an
 * order released short of a component waits for material, is dispatched to its line's machines once
 * Odoo reserves the components (a machine refusing is asked again), runs, waits while its line is
 * down, completes, closes; each step is one OrderStepChanged, late steps publish OrderStepOverdue,
 * and a replay or a restart changes nothing. The bridge is a stand-in answering the command subject
 * (the real bridge's command path has its own tests in test/machine-bridge/).
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { EventCodec, type EventPayloads, type ProductionOrderChanged } from "../../contracts/src/index.js";
import { startService } from "../../services/production-orchestrator/src/main.js";
import { applyPlan, EventPublisher, planChanges, serverFacts } from "../../streams/src/index.js";
import { ordersStatus } from "../../tools/cli/orders.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { storedEvents } from "../harness/events.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import { fakeBridge, last, line1, materials, product, release, SITE, stepsOf, units } from "./fixtures.js";

/** A nats-server with the declared streams and the orchestrator of SITE on it; stopped after the test. */
async function startOrchestrator(t: TestContext) {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  const service = await startService({
    NATS_URL: server.clientUrl,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
    SITE,
    SWEEP_INTERVAL_MS: "100",
  });
  t.after(() => service.stop());
  const publisher = new EventPublisher(jetstream(nc), new EventCodec(), { service: "test", site: SITE });
  return { nc, service, publisher };
}

/** Odoo cancelled the order (a ProductionOrderChanged of its state). */
function cancellation(orderRef: string, odooOrderId: bigint): ProductionOrderChanged {
  return {
    orderRef,
    odooOrderId,
    changedFields: ["STATE"],
    quantity: null,
    plannedStartAt: null,
    plannedEndAt: null,
    state: "CANCEL",
    previousState: "CONFIRMED",
    equipment: null,
    workCenterCode: null,
    lotToProduce: null,
    materials: null,
    changedAt: new Date(),
  };
}

test("production orchestrator - an order from release to closed: waits for material, is dispatched (a refusal asked again), runs, waits while its line is down, completes and closes; overdue once; a replay and a restart change nothing", async (t) => {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  const bridge = fakeBridge(nc, "capper1");
  t.after(() => bridge.stop());
  const env = {
    NATS_URL: server.clientUrl,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
    SITE,
    DISPATCH_MACHINES: JSON.stringify({ line1: ["filler1", "capper1"] }),
    FIRST_ARTICLE_PRODUCTS: JSON.stringify(["JAM-370"]),
    STEP_BUDGETS: JSON.stringify({ default: { DISPATCHED: "1s" } }),
    SWEEP_INTERVAL_MS: "100",
    DISPATCH_RETRY_MS: "300",
    LINE_DOWN_AFTER_MS: "300",
    COMMAND_TIMEOUT_MS: "2000",
  };
  let service = await startService(env);
  t.after(() => service.stop());
  const publisher = new EventPublisher(jetstream(nc), new EventCodec(), { service: "test", site: SITE });
  const publish = <K extends keyof EventPayloads>(
    type: K,
    value: EventPayloads[K],
    key: string,
    machine?: string,
  ) =>
    publisher.publish(type, value as never, {
      site: SITE,
      line: "line1",
      ...(machine ? { machine } : {}),
      key,
    });
  const order = "WH/MO/00042";

  // Released with 900 of 1200 jars reserved: it waits for material and says what is missing.
  const released = await publish(
    "mfg.production.production_order_released.v1",
    release(order, { materials: materials("900") }),
    order,
  );
  await until("the material wait", async () =>
    last(await stepsOf(nc, order))?.waitingFor === "MATERIAL" ? true : undefined,
  );
  const [shortage] = await storedEvents(nc, "mfg.production.material_shortage_detected.v1", SITE);
  assert.deepEqual(
    shortage?.value.shortages.map((s) => [s.product.code, { ...s.missing }]),
    [["JAR-370", { value: "300.000000", uom: "Units" }]],
  );
  assert.match(last(await stepsOf(nc, order))?.reason ?? "", /JAR-370 300 Units missing/);
  assert.equal(bridge.received.length, 0, "nothing is dispatched while material is short");

  // Odoo reserves the jars: dispatched to line1's machines; the capper refuses once, is asked again.
  await publish(
    "mfg.production.production_order_changed.v1",
    {
      orderRef: order,
      odooOrderId: 42n,
      changedFields: ["MATERIALS"],
      quantity: null,
      plannedStartAt: null,
      plannedEndAt: null,
      state: null,
      previousState: null,
      equipment: null,
      workCenterCode: null,
      lotToProduce: null,
      materials: materials("1200"),
      changedAt: new Date(),
    },
    order,
  );
  await until("dispatched", async () =>
    last(await stepsOf(nc, order))?.step === "DISPATCHED" ? true : undefined,
  );
  const dispatches = await storedEvents(nc, "mfg.production.order_dispatched.v1", SITE);
  assert.deepEqual(
    dispatches.map((d) => d.value.machines.map((m) => `${m.machine}:${m.outcome}`).join(",")),
    ["filler1:CONFIRMED,capper1:REFUSED", "filler1:CONFIRMED,capper1:CONFIRMED"],
  );
  assert.equal(bridge.received.length, 4, "two machines, the capper's refusal asked again");
  for (const r of bridge.received) {
    assert.deepEqual(r.request.body, { command: "SET_ORDER", order, lot: "LOT-WH-MO-00042" });
    assert.equal(r.request.requestedBy, "production-orchestrator");
  }

  // Dispatched longer than its 1 s budget: one OrderStepOverdue.
  await until("overdue", async () =>
    (await storedEvents(nc, "mfg.production.order_step_overdue.v1", SITE)).length > 0 ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 400));
  const overdue = await storedEvents(nc, "mfg.production.order_step_overdue.v1", SITE);
  assert.deepEqual(
    overdue.map((o) => [o.value.orderRef, o.value.step, o.value.budgetSeconds]),
    [[order, "DISPATCHED", 1n]],
  );

  // The first count runs it and asks a first-article inspection once.
  const count = (good: string) =>
    publish(
      "mfg.production.production_reported.v1",
      {
        equipment: { ...line1, machine: "capper1" },
        orderRef: order,
        lot: "LOT-WH-MO-00042",
        goodQuantity: units(good),
        rejectQuantity: units("0"),
        goodCounterFrom: 0n,
        goodCounterTo: 0n,
        rejectCounterFrom: 0n,
        rejectCounterTo: 0n,
        periodStartAt: new Date(),
        reportedAt: new Date(),
        countingPoint: true,
        rejectedComponent: null,
        running: [],
      },
      "capper1",
      "capper1",
    );
  const first = await count("600");
  await count("600");
  await until("running", async () =>
    (await stepsOf(nc, order)).some((s) => s.step === "RUNNING") ? true : undefined,
  );
  const inspections = await storedEvents(nc, "mfg.quality.inspection_requested.v1", SITE);
  assert.deepEqual(
    inspections.map((i) => [i.value.orderRef, i.value.kind, i.value.lot]),
    [[order, "FIRST_ARTICLE", "LOT-WH-MO-00042"]],
  );

  // Its line stops past the threshold: it waits (LINE_DOWN), and resumes when the line runs again.
  const downtime = {
    downtimeId: "dt-1",
    equipment: { ...line1, machine: "filler1" },
    reason: null,
    category: "UNPLANNED",
    startedAt: new Date(),
  } as EventPayloads["mfg.machine.downtime_started.v1"];
  await publisher.publish("mfg.machine.downtime_started.v1", downtime, {
    site: SITE,
    line: "line1",
    machine: "filler1",
    key: "filler1",
  });
  await until("line down", async () =>
    last(await stepsOf(nc, order))?.waitingFor === "LINE_DOWN" ? true : undefined,
  );
  await publisher.publish(
    "mfg.machine.downtime_ended.v1",
    {
      ...downtime,
      endedAt: new Date(),
      durationMillis: 500n,
    } as EventPayloads["mfg.machine.downtime_ended.v1"],
    { site: SITE, line: "line1", machine: "filler1", key: "filler1" },
  );
  await until("line up", async () => {
    const s = last(await stepsOf(nc, order));
    return s?.step === "RUNNING" && s.waitingFor === null ? true : undefined;
  });

  // Odoo accepts the planned quantity: completed; done in Odoo: closed.
  for (const [i, good] of ["600", "600"].entries())
    await publish(
      "mfg.production.production_posted.v1",
      {
        sourceEventId: i === 0 ? first.envelope.id : `report-${i}`,
        orderRef: order,
        odooOrderId: 42n,
        lot: "LOT-WH-MO-00042",
        postedGoodQuantity: units(good),
        postedRejectQuantity: units("0"),
        odooRecords: [],
        postedAt: new Date(),
      },
      order,
    );
  await until("completed", async () =>
    last(await stepsOf(nc, order))?.step === "COMPLETED" ? true : undefined,
  );
  await publish(
    "mfg.production.production_order_completed.v1",
    {
      orderRef: order,
      odooOrderId: 42n,
      product: product("JAM-370", 7n),
      producedQuantity: units("1200"),
      scrappedQuantity: units("0"),
      lot: "LOT-WH-MO-00042",
      equipment: line1,
      completedAt: new Date(),
      lots: [],
    } as unknown as EventPayloads["mfg.production.production_order_completed.v1"],
    order,
  );
  await until("closed", async () => (last(await stepsOf(nc, order))?.step === "CLOSED" ? true : undefined));
  const steps = await stepsOf(nc, order);
  assert.deepEqual(
    steps.map((s) => `${s.step}${s.waitingFor ? `/${s.waitingFor}` : ""}`),
    [
      "RELEASED",
      "MATERIAL_CHECK/MATERIAL",
      "DISPATCHING",
      "DISPATCHING/DISPATCH",
      "DISPATCHED",
      "RUNNING",
      "RUNNING/LINE_DOWN",
      "RUNNING",
      "COMPLETED",
      "CLOSED",
    ],
  );

  // A replay of the release (a new stream message, same event) and a restart: nothing new happens.
  const stored = await jsm.streams.getMessage("MFG_PRODUCTION", { seq: released.ack.seq });
  assert.ok(stored);
  stored.header.set("Nats-Msg-Id", `replay-${released.envelope.id}`);
  const replay = await jetstream(nc).publish(released.subject, stored.data, { headers: stored.header });
  await until("the replay handled", async () => {
    const info = await jsm.consumers.info("MFG_PRODUCTION", "production-orchestrator-orders");
    return info.ack_floor.stream_seq >= replay.seq ? true : undefined;
  });
  await service.stop();
  service = await startService(env);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await stepsOf(nc, order)).length, steps.length, "no transition published twice");
  assert.equal(bridge.received.length, 4, "no machine written twice");

  const status = await ordersStatus(nc);
  assert.deepEqual(
    status.map((o) => [o.orderRef, o.step, o.waitingFor, o.line]),
    [[order, "CLOSED", null, "line1"]],
  );
});

test("production orchestrator - an order no line can run waits for ROUTING, named in its status; a cancellation in Odoo ends it", async (t) => {
  const { nc, publisher } = await startOrchestrator(t);
  const order = "WH/MO/00077";
  await publisher.publish(
    "mfg.production.production_order_released.v1",
    release(order, { equipment: { ...line1, line: null }, workCenterCode: "PAINT" }),
    { site: SITE, key: order },
  );
  await until("routing wait", async () =>
    last(await stepsOf(nc, order))?.waitingFor === "ROUTING" ? true : undefined,
  );
  const [status] = await ordersStatus(nc, { stuck: true });
  assert.equal(status?.orderRef, order);
  assert.equal(status?.waitingFor, "ROUTING");
  assert.match(status?.reason ?? "", /no line runs work centre PAINT/);

  await publisher.publish("mfg.production.production_order_changed.v1", cancellation(order, 42n), {
    site: SITE,
    key: order,
  });
  await until("cancelled", async () =>
    last(await stepsOf(nc, order))?.step === "CANCELLED" ? true : undefined,
  );
  assert.deepEqual(await ordersStatus(nc), [], "a cancelled order is no longer open");
  assert.equal((await ordersStatus(nc, { all: true }))[0]?.step, "CANCELLED");
});

test("production orchestrator - another site's release and an event of an order never released here are set aside, counted by reason, never run", async (t) => {
  const { nc, service, publisher } = await startOrchestrator(t);
  const elsewhere = "WH/MO/00901";
  await publisher.publish(
    "mfg.production.production_order_released.v1",
    release(elsewhere, { equipment: { ...line1, site: "plant-elsewhere" } }),
    { site: "plant-elsewhere", key: elsewhere },
  );
  const unknown = "WH/MO/00902";
  await publisher.publish("mfg.production.production_order_changed.v1", cancellation(unknown, 902n), {
    site: SITE,
    key: unknown,
  });
  const counted = (reason: string) => async () => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    return new RegExp(`^threadline_order_events_ignored_total\\{reason="${reason}"\\} 1$`, "m").test(text);
  };
  await until("another site's release counted", counted("other_site"));
  await until("the unknown order's event counted", counted("unknown_order"));
  assert.deepEqual(await ordersStatus(nc, { all: true }), [], "neither became an order here");
  assert.deepEqual(await stepsOf(nc, elsewhere), []);
});
