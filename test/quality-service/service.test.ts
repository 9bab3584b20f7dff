/**
 * The quality service against a real nats-server with the platform's declarations and the genealogy's
 * real routes over the story (harness/genealogy.ts: powder RAW-1 LOT/2026/001 → compact INT-1 INT-001
 * → brake disc FG-1 FG-001): the shipment gate, holds placed and decided through the API, SPC on
 * telemetry holding the lot being made and what was made of it, inspections from a lab, fail-closed,
 * escapes, and a restart with a replay that publishes nothing twice.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { QUALITY_DURABLES } from "../../services/quality-service/src/manifest.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { storedEvents } from "../harness/events.js";
import {
  deliveryPosted,
  dispatchPressLot,
  LINE_1,
  type QualityFixture,
  SITE,
  shipmentRequested,
  startQualityFixture,
} from "../harness/quality.js";
import { until } from "../harness/wait.js";

const units = (value: string) => ({ value, uom: "Units" });

const shipment = shipmentRequested;

const request = (f: QualityFixture, pickingRef: string, pickingId: bigint, lot: string) =>
  f.publish("mfg.shipping.shipment_requested.v1", shipment(pickingRef, pickingId, lot), { key: pickingRef });

/** Waits until the gate decided on a delivery `n` times. */
const decided = (f: QualityFixture, pickingRef: string, n: number) =>
  until(`${pickingRef} decided ${n} time(s)`, async () =>
    (await decisions(f.nc, pickingRef)).length >= n ? true : undefined,
  );

const decisions = async (nc: Parameters<typeof storedEvents>[0], pickingRef: string) => {
  const blocked = (await storedEvents(nc, "mfg.shipping.shipment_blocked.v1", SITE)).filter(
    (e) => e.value.pickingRef === pickingRef,
  );
  const cleared = (await storedEvents(nc, "mfg.shipping.shipment_cleared.v1", SITE)).filter(
    (e) => e.value.pickingRef === pickingRef,
  );
  return [
    ...blocked.map((e) => ({ seq: e.seq, kind: "blocked" as const, e })),
    ...cleared.map((e) => ({ seq: e.seq, kind: "cleared" as const, e })),
  ].sort((a, b) => a.seq - b.seq);
};

test("quality service - the shipment gate clears a delivery, blocks it again when a hold lands on a lot it was made from, and clears it on release; a viewer may not release", async (t) => {
  const f = await startQualityFixture(t);
  await request(f, "WH/OUT/00002", 502n, "FG-001");
  await decided(f, "WH/OUT/00002", 1);
  const [first] = await decisions(f.nc, "WH/OUT/00002");
  assert.equal(first?.kind, "cleared");

  // A hold on the powder, two levels below the disc: no scope, the gate must find it through the genealogy.
  const placed = await f.api("POST", "/quality/holds", "alice", {
    site: SITE,
    lot: "LOT/2026/001",
    product: "RAW-1",
    reason: "supplier certificate missing",
    scope: { forward: false, backward: false },
  });
  assert.equal(placed.status, 201, JSON.stringify(placed.body));
  const holdId = placed.body.holds[0].holdId as string;
  await decided(f, "WH/OUT/00002", 2);
  const blocked = (await decisions(f.nc, "WH/OUT/00002"))[1];
  assert.equal(blocked?.kind, "blocked");
  if (blocked?.kind !== "blocked") return;
  assert.deepEqual(
    blocked.e.value.blockedLots.map((l) => [l.lot, l.product.code, l.holdIds, l.reason]),
    [["LOT/2026/001", "RAW-1", [holdId], "supplier certificate missing"]],
  );
  const [hold] = await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE);
  assert.equal(hold?.value.placedBy, "alice");
  assert.equal(hold?.value.triggeredBy, null);

  // A viewer may read but not decide; a release needs a comment.
  const refused = await f.api("POST", `/quality/holds/${holdId}/decision`, "viewer", {
    disposition: "release",
    comment: "looks fine",
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "QUALITY_FORBIDDEN");
  assert.match(refused.body.error.message, /viewer may not do this: it needs the role release/);
  const bare = await f.api("POST", `/quality/holds/${holdId}/decision`, "alice", { disposition: "release" });
  assert.equal(bare.status, 400);
  assert.match(bare.body.error.message, /comment/);
  const anonymous = await f.api("GET", "/quality/holds");
  assert.equal(anonymous.status, 401);
  assert.equal((await storedEvents(f.nc, "mfg.quality.quality_hold_released.v1", SITE)).length, 0);
  assert.equal((await f.api("GET", "/quality/holds", "viewer")).body.holds.length, 1);

  const released = await f.api("POST", `/quality/holds/${holdId}/decision`, "alice", {
    disposition: "release",
    comment: "certificate received, CoA 2026-117",
  });
  assert.equal(released.status, 200, JSON.stringify(released.body));
  assert.equal(released.body.status, "RELEASED");
  await decided(f, "WH/OUT/00002", 3);
  const again = (await decisions(f.nc, "WH/OUT/00002"))[2];
  assert.equal(again?.kind, "cleared");
  if (again?.kind === "cleared") assert.equal(again.e.value.wasBlocked, true);
  const [decision] = await storedEvents(f.nc, "mfg.quality.quality_hold_released.v1", SITE);
  assert.equal(decision?.value.releasedBy, "alice");
  assert.equal(decision?.value.reason, "certificate received, CoA 2026-117");
  // A decision is final.
  const twice = await f.api("POST", `/quality/holds/${holdId}/decision`, "alice", {
    disposition: "scrap",
    comment: "changed my mind",
  });
  assert.equal(twice.status, 409);
  assert.equal(twice.body.error.code, "QUALITY_HOLD_ALREADY_DECIDED");
});

test("quality service - an SPC violation on the press holds the lot being made and what was made of it, once per episode, and ends once", async (t) => {
  const f = await startQualityFixture(t);
  const line = LINE_1;
  await dispatchPressLot(f);
  const press = { ...line, machine: "press-1" };
  const sample = (value: number, at: number) => ({
    tag: "force",
    value,
    quality: "GOOD" as const,
    sourceTime: new Date(at),
    dataType: "DOUBLE" as const,
  });
  const t0 = Date.now() - 30_000;
  // A sample the PLC marks bad is not plotted, but counted and logged.
  await f.publish(
    "mfg.machine.telemetry_sampled.v1",
    { equipment: press, samples: [{ ...sample(250, t0 - 1000), quality: "BAD" as const }] },
    { key: "press-1", line: "line-1", machine: "press-1" },
  );
  // In control, then three points beyond the upper limit (one episode of rule 1), then back.
  const values = [100.2, 99.8, 100.1, 99.9, 104, 104.5, 105, 100.1, 99.9];
  for (const [i, v] of values.entries())
    await f.publish(
      "mfg.machine.telemetry_sampled.v1",
      { equipment: press, samples: [sample(v, t0 + i * 1000)] },
      { key: "press-1", line: "line-1", machine: "press-1" },
    );

  await until("the episode ended", async () =>
    (await storedEvents(f.nc, "mfg.quality.spc_violation_ended.v1", SITE)).length > 0 ? true : undefined,
  );
  const violations = await storedEvents(f.nc, "mfg.quality.spc_violation_detected.v1", SITE);
  const rule1 = violations.filter((v) => v.value.ruleSet === "NELSON" && v.value.ruleNumber === 1);
  assert.equal(rule1.length, 1, "one violation for the whole run beyond the limit");
  const v = rule1[0]?.value;
  assert.equal(v?.lot, "INT-001");
  assert.equal(v?.characteristic, "force");
  assert.equal(v?.upperControlLimit, 103);
  assert.deepEqual(
    v?.points.map((p) => p.value),
    [104],
  );
  const ended = (await storedEvents(f.nc, "mfg.quality.spc_violation_ended.v1", SITE)).filter(
    (e) => e.value.ruleNumber === 1,
  );
  assert.equal(ended.length, 1);
  assert.equal(ended[0]?.value.violationId, v?.violationId);
  assert.equal(ended[0]?.value.pointsInEpisode, 3);

  const metrics = await (await fetch(`${f.service().url}/metrics`)).text();
  assert.match(
    metrics,
    /threadline_quality_ignored_total\{reason="sample_not_good",characteristic="press-force"\} [1-9]/,
  );
  await until("the holds placed", async () =>
    (await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE)).length >= 2 ? true : undefined,
  );
  const holds = await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE);
  assert.deepEqual(holds.map((h) => `${h.value.product.code} ${h.value.lot}`).sort(), [
    "FG-1 FG-001",
    "INT-1 INT-001",
  ]);
  for (const h of holds) {
    assert.equal(h.value.triggeredBy, rule1[0]?.id);
    assert.equal(h.value.placedBy, "quality-service");
    assert.match(h.value.reason, /SPC: .*nelson-1.* on force at plant-lyon\/line-1\/press-1/);
  }
  assert.match(
    holds.find((h) => h.value.lot === "FG-001")?.value.reason ?? "",
    /scope: made from lot INT-001 \(INT-1\)/,
  );
  assert.match(
    holds.find((h) => h.value.lot === "INT-001")?.value.reason ?? "",
    /— scope: this lot and the lots made from it \(depth 10\)$/,
  );

  // A delivery of the disc is now refused at once.
  await request(f, "WH/OUT/00003", 503n, "FG-001");
  await decided(f, "WH/OUT/00003", 1);
  const [d] = await decisions(f.nc, "WH/OUT/00003");
  assert.equal(d?.kind, "blocked");
  if (d?.kind === "blocked")
    assert.deepEqual(d.e.value.blockedLots.map((l) => l.lot).sort(), ["FG-001", "INT-001"]);
});

test("quality service - a lab records inspections over HTTP: validated, published, out of spec raises a nonconformance that holds the lot; bad input changes nothing", async (t) => {
  const f = await startQualityFixture(t);
  const good = await f.api("POST", "/quality/inspections", "lab", {
    site: SITE,
    lot: "FG-001",
    product: "FG-1",
    characteristic: "bore",
    measuredValues: [12.001, 11.998],
  });
  assert.equal(good.status, 201, JSON.stringify(good.body));
  assert.equal(good.body.result, "PASS");
  assert.match(good.body.eventId, /^[0-9a-f-]{36}$/);
  const bad = await f.api("POST", "/quality/inspections", "lab", {
    site: SITE,
    lot: "FG-001",
    product: "FG-1",
    characteristic: "bore",
    measuredValues: [12.001, 12.08],
  });
  assert.equal(bad.status, 201);
  assert.equal(bad.body.result, "FAIL");
  assert.deepEqual(bad.body.outOfSpec, [12.08]);

  // Two causes, two holds: the nonconformance, and the bore chart's rule 1 (12.08 is beyond 12.03).
  await until("the nonconformance's and the violation's holds", async () =>
    (await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE)).length >= 2 ? true : undefined,
  );
  const recorded = await storedEvents(f.nc, "mfg.quality.inspection_recorded.v1", SITE);
  assert.deepEqual(
    recorded.map((r) => r.id),
    [good.body.eventId, bad.body.eventId],
  );
  assert.equal(recorded[1]?.value.inspectedBy, "lab");
  assert.equal(recorded[1]?.value.unit, "mm");
  const [ncr] = await storedEvents(f.nc, "mfg.quality.nonconformance_raised.v1", SITE);
  assert.equal(ncr?.value.source, "INSPECTION");
  assert.equal(ncr?.value.defectCode, "OUT-OF-SPEC");
  assert.equal(ncr?.value.triggeredBy, bad.body.eventId);
  assert.match(ncr?.value.description ?? "", /1 of 2 value\(s\) outside 11\.95\.\.12\.05 mm \(12\.08\)/);
  const holds = await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE);
  const [violation] = await storedEvents(f.nc, "mfg.quality.spc_violation_detected.v1", SITE);
  assert.equal(violation?.value.lot, "FG-001");
  assert.deepEqual(
    violation?.value.points.map((p) => p.inspectionId),
    [recorded[1]?.value.inspectionId],
  );
  assert.deepEqual(
    holds.map((h) => [h.value.lot, h.value.triggeredBy]).sort(),
    [
      ["FG-001", ncr?.id],
      ["FG-001", violation?.id],
    ].sort(),
  );

  const before = (await storedEvents(f.nc, "mfg.quality.inspection_recorded.v1", SITE)).length;
  const malformed = await f.api("POST", "/quality/inspections", "lab", {
    site: SITE,
    lot: "FG-001",
    product: "FG-1",
    characteristic: "bore",
    measuredValues: ["12.0"],
  });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, "QUALITY_REQUEST_INVALID");
  assert.match(malformed.body.error.message, /measuredValues\.0: must be a number/);
  const unknown = await f.api("POST", "/quality/inspections", "lab", {
    site: SITE,
    lot: "FG-001",
    product: "FG-1",
    characteristic: "flatness",
    measuredValues: [0.01],
  });
  assert.equal(unknown.status, 422);
  assert.match(unknown.body.error.message, /characteristic flatness of product FG-1 is not charted/);
  const extra = await f.api("POST", "/quality/inspections", "lab", {
    site: SITE,
    lot: "FG-001",
    product: "FG-1",
    characteristic: "bore",
    measuredValues: [12],
    colour: "red",
  });
  assert.equal(extra.status, 400);
  const noRole = await f.api("POST", "/quality/inspections", "viewer", {
    site: SITE,
    lot: "FG-001",
    product: "FG-1",
    characteristic: "bore",
    measuredValues: [12],
  });
  assert.equal(noRole.status, 403);
  assert.equal(
    (await storedEvents(f.nc, "mfg.quality.inspection_recorded.v1", SITE)).length,
    before,
    "nothing published for bad input",
  );
});

test("quality service - the gate fails closed while the genealogy cannot be asked, and clears the delivery itself once it can", async (t) => {
  const f = await startQualityFixture(t);
  f.genealogyDown = true;
  await request(f, "WH/OUT/00004", 504n, "FG-001");
  await decided(f, "WH/OUT/00004", 1);
  const [d] = await decisions(f.nc, "WH/OUT/00004");
  assert.equal(d?.kind, "blocked");
  if (d?.kind === "blocked") {
    assert.deepEqual(
      d.e.value.blockedLots.map((l) => [l.lot, l.holdIds]),
      [["FG-001", []]],
    );
    assert.match(
      d.e.value.blockedLots[0]?.reason ?? "",
      /not checked, blocked until it can be: the genealogy builder: .* answered 503/,
    );
  }
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await decisions(f.nc, "WH/OUT/00004")).length, 1, "a failing recheck publishes nothing new");
  f.genealogyDown = false;
  await decided(f, "WH/OUT/00004", 2);
  const cleared = (await decisions(f.nc, "WH/OUT/00004"))[1];
  assert.equal(cleared?.kind, "cleared");
  if (cleared?.kind === "cleared") {
    assert.equal(cleared.e.value.wasBlocked, true);
    assert.deepEqual([...cleared.e.value.lots].sort(), ["FG-001", "INT-001", "LOT/2026/001"]);
  }
});

test("quality service - a held lot delivered to a customer raises an escape nonconformance, counts it and lists it in the reconciliation; a restart and a replay publish nothing twice", async (t) => {
  const f = await startQualityFixture(t);
  const placed = await f.api("POST", "/quality/holds", "alice", {
    site: SITE,
    lot: "FG-001",
    product: "FG-1",
    reason: "burr on the hub",
    scope: { forward: false },
  });
  assert.equal(placed.status, 201);
  await request(f, "WH/OUT/00005", 505n, "FG-001");
  await decided(f, "WH/OUT/00005", 1);
  // Someone validates it in Odoo anyway.
  await f.publish("mfg.inventory.goods_movement_posted.v1", deliveryPosted("WH/OUT/00005", 505n, "FG-001"), {
    key: "FG-001",
  });
  await until("the escape", async () =>
    (await storedEvents(f.nc, "mfg.quality.nonconformance_raised.v1", SITE)).length > 0 ? true : undefined,
  );
  const [escaped] = await storedEvents(f.nc, "mfg.quality.nonconformance_raised.v1", SITE);
  assert.equal(escaped?.value.defectCode, "HOLD-ESCAPE");
  assert.equal(escaped?.value.severity, "CRITICAL");
  assert.match(
    escaped?.value.description ?? "",
    /^escape: lot FG-001 \(FG-1\) was delivered to Partners\/Customers by WH\/OUT\/00005 while on quality hold H-/,
  );
  const metrics = await (await fetch(`${f.service().url}/metrics`)).text();
  assert.match(metrics, /threadline_quality_hold_escapes_total 1/);
  const reconcile = await f.api("GET", "/quality/reconcile", "viewer");
  assert.deepEqual(
    reconcile.body.escapes.map((e: { lot: string; pickingRef: string }) => [e.lot, e.pickingRef]),
    [["FG-001", "WH/OUT/00005"]],
  );
  // It left: no longer watched, remembered.
  const watched = await f.api("GET", "/quality/shipments", "viewer");
  assert.equal(watched.body.shipments.length, 0);
  const all = await f.api("GET", "/quality/shipments?all=true", "viewer");
  assert.deepEqual(
    all.body.shipments.map((s: { pickingRef: string; finished: string }) => [s.pickingRef, s.finished]),
    [["WH/OUT/00005", "shipped"]],
  );
  assert.equal((await f.api("GET", "/quality/shipments?all=yes", "viewer")).status, 400);
  await new Promise((r) => setTimeout(r, 300));

  const count = async () => ({
    holds: (await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE)).length,
    blocked: (await storedEvents(f.nc, "mfg.shipping.shipment_blocked.v1", SITE)).length,
    cleared: (await storedEvents(f.nc, "mfg.shipping.shipment_cleared.v1", SITE)).length,
    ncrs: (await storedEvents(f.nc, "mfg.quality.nonconformance_raised.v1", SITE)).length,
  });
  const before = await count();
  // Every durable deleted and declared again: the service reads every stream from its start.
  await f.service().stop();
  const jsm = await jetstreamManager(f.nc);
  for (const [stream, durable] of [
    ["MFG_QUALITY", QUALITY_DURABLES.quality],
    ["MFG_SHIPPING", QUALITY_DURABLES.shipping],
    ["MFG_INVENTORY", QUALITY_DURABLES.inventory],
  ] as const)
    await jsm.consumers.delete(stream, durable);
  await applyPlan(
    jsm,
    await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(f.nc)),
    { force: false },
  );
  await f.restart();
  await until("the replay consumed", async () => {
    const info = await jsm.consumers.info("MFG_INVENTORY", QUALITY_DURABLES.inventory);
    return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await count(), before);
  assert.equal(
    (await f.api("GET", "/quality/holds", "viewer")).body.holds.length,
    1,
    "the hold survived the restart",
  );
});

test("quality service - an episode still running holds the next lot started on the line, a restart does not announce it again, and a scrapped hold keeps its delivery blocked", async (t) => {
  const f = await startQualityFixture(t);
  const jsm = await jetstreamManager(f.nc);
  const line = { site: SITE, area: null, line: "line-1", cell: null, machine: null };
  const dispatch = (orderRef: string, lot: string, product: string, ago: number) =>
    f.publish(
      "mfg.production.order_dispatched.v1",
      {
        orderRef,
        odooOrderId: 1n,
        equipment: line,
        lot,
        product: { code: product, name: null, odooId: null },
        quantity: units("100"),
        workCenterCode: "WC-PRESS",
        machines: [],
        dispatchedAt: new Date(Date.now() - ago),
      },
      { key: orderRef, line: "line-1" },
    );
  const drained = (stream: string, durable: string) =>
    until(`${durable} drained`, async () => {
      const info = await jsm.consumers.info(stream, durable);
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    });
  await dispatch("WH/MO/00001", "INT-001", "INT-1", 60_000);
  await drained("MFG_PRODUCTION", QUALITY_DURABLES.production);
  const press = { ...line, machine: "press-1" };
  const force = (value: number, at: number) =>
    f.publish(
      "mfg.machine.telemetry_sampled.v1",
      {
        equipment: press,
        samples: [{ tag: "force", value, quality: "GOOD", sourceTime: new Date(at), dataType: "DOUBLE" }],
      },
      { key: "press-1", line: "line-1", machine: "press-1" },
    );
  const t0 = Date.now() - 20_000;
  await force(106, t0);
  await until("the violation", async () =>
    (await storedEvents(f.nc, "mfg.quality.spc_violation_detected.v1", SITE)).length > 0 ? true : undefined,
  );
  await drained("MFG_MACHINE", QUALITY_DURABLES.telemetry);

  // A restart while the press still violates: the episode is remembered, not announced again.
  await f.restart();
  await force(107, t0 + 1000);
  await drained("MFG_MACHINE", QUALITY_DURABLES.telemetry);
  assert.equal((await storedEvents(f.nc, "mfg.quality.spc_violation_detected.v1", SITE)).length, 1);

  // The next order starts on the line during the episode: its lot is held too.
  await dispatch("WH/MO/00009", "INT-009", "INT-1", 0);
  await until("the new lot held", async () =>
    (await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE)).some(
      (h) => h.value.lot === "INT-009",
    )
      ? true
      : undefined,
  );
  const holds = await storedEvents(f.nc, "mfg.quality.quality_hold_placed.v1", SITE);
  const [violation] = await storedEvents(f.nc, "mfg.quality.spc_violation_detected.v1", SITE);
  const late = holds.find((h) => h.value.lot === "INT-009");
  assert.equal(late?.value.triggeredBy, violation?.id);
  assert.match(late?.value.reason ?? "", /episode still running .* when lot INT-009 started/);

  // A delivery of the disc made of INT-001 is blocked; scrapping the disc's hold keeps it blocked.
  await request(f, "WH/OUT/00006", 506n, "FG-001");
  await decided(f, "WH/OUT/00006", 1);
  const discHold = holds.find((h) => h.value.lot === "FG-001");
  assert.ok(discHold, "the disc made of the lot is held by the scope");
  const scrapped = await f.api("POST", `/quality/holds/${discHold.value.holdId}/decision`, "alice", {
    disposition: "scrap",
    comment: "discs scrapped, NCR-88",
  });
  assert.equal(scrapped.status, 200);
  assert.equal(scrapped.body.status, "REJECTED");
  const [decision] = await storedEvents(f.nc, "mfg.quality.quality_hold_released.v1", SITE);
  assert.equal(decision?.value.status, "REJECTED");
  assert.equal(decision?.value.reason, "scrap: discs scrapped, NCR-88");
  await new Promise((r) => setTimeout(r, 300));
  const after = await decisions(f.nc, "WH/OUT/00006");
  assert.ok(
    after.every((d) => d.kind === "blocked"),
    "a rejected hold never clears the delivery",
  );
  const watched = await f.api("GET", "/quality/shipments", "viewer");
  assert.equal(
    watched.body.shipments.find((s: { pickingRef: string }) => s.pickingRef === "WH/OUT/00006")?.state,
    "blocked",
  );
});

// After the escape test: the process-wide metrics registry would count this file's escapes together.
test("quality service - a delivery Odoo dates in the second its hold was released is no escape once the gate cleared it; one the gate never cleared is", async (t) => {
  const f = await startQualityFixture(t);
  const hold = async (lot: string) => {
    const placed = await f.api("POST", "/quality/holds", "alice", {
      site: SITE,
      lot,
      product: "FG-1",
      reason: "burr on the hub",
      scope: { forward: false },
    });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    // The next second begins: the hold was placed before the second the delivery is dated in.
    await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));
    return placed.body.holds[0].holdId as string;
  };
  // Odoo keeps a movement's time to the second: the release came in the same second, before it.
  const sameSecondAs = (at: number) => new Date(Math.floor(at / 1000) * 1000);
  const released = await hold("FG-001");
  await request(f, "WH/OUT/00007", 507n, "FG-001");
  await decided(f, "WH/OUT/00007", 1);
  const decision = await f.api("POST", `/quality/holds/${released}/decision`, "alice", {
    disposition: "release",
    comment: "burr within tolerance after rework",
  });
  assert.equal(decision.status, 200, JSON.stringify(decision.body));
  await decided(f, "WH/OUT/00007", 2);
  const [, cleared] = await decisions(f.nc, "WH/OUT/00007");
  assert.equal(cleared?.kind, "cleared");
  const releasedAt = (
    await storedEvents(f.nc, "mfg.quality.quality_hold_released.v1", SITE)
  )[0]!.value.releasedAt.getTime();
  await f.publish(
    "mfg.inventory.goods_movement_posted.v1",
    { ...deliveryPosted("WH/OUT/00007", 507n, "FG-001"), postedAt: sameSecondAs(releasedAt) },
    { key: "FG-001" },
  );
  // The same, for a delivery the gate never judged (its request never came): still an escape.
  const other = await hold("FG-002");
  const otherDecision = await f.api("POST", `/quality/holds/${other}/decision`, "alice", {
    disposition: "release",
    comment: "released in the same second",
  });
  assert.equal(otherDecision.status, 200);
  const otherReleasedAt = (
    await storedEvents(f.nc, "mfg.quality.quality_hold_released.v1", SITE)
  )[1]!.value.releasedAt.getTime();
  await f.publish(
    "mfg.inventory.goods_movement_posted.v1",
    { ...deliveryPosted("WH/OUT/00008", 508n, "FG-002"), postedAt: sameSecondAs(otherReleasedAt) },
    { key: "FG-002" },
  );
  const escapes = await until("the unjudged delivery's escape", async () => {
    const ncrs = await storedEvents(f.nc, "mfg.quality.nonconformance_raised.v1", SITE);
    return ncrs.length > 0 ? ncrs : undefined;
  });
  await new Promise((r) => setTimeout(r, 300));
  const all = await storedEvents(f.nc, "mfg.quality.nonconformance_raised.v1", SITE);
  assert.deepEqual(
    all.map((e) => e.value.lot),
    ["FG-002"],
    `only the delivery the gate never cleared is an escape: ${JSON.stringify(escapes.map((e) => e.value.description))}`,
  );
});
