/**
 * Ops console - the quality and genealogy pages' API, against the real quality service and the
 * genealogy's real routes over the story (harness/quality.ts: powder RAW-1 LOT/2026/001 → compact INT-1
 * INT-001 → disc FG-1 FG-001) on one real nats-server, and the console on the same server
 * (fixtures/console.ts) with the quality service's and the genealogy's URLs and tokens: holds with their
 * evidence (an SPC violation on the press and the lots it held), a quality user's release that the
 * quality service records with the user's name and the shipment gate follows, refusals by role (audited,
 * nothing changed), body validation, the control chart from the streams, a lot's trace level by level,
 * its recall report, an unknown lot, an upstream outage, and a console without the tokens.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { listAudit } from "../../streams/src/index.js";
import { storedEvents } from "../harness/events.js";
import { TOKEN as GENEALOGY_TOKEN } from "../harness/genealogy.js";
import {
  dispatchPressLot,
  LINE_1,
  USERS as QUALITY_USERS,
  type QualityFixture,
  SITE,
  shipmentRequested,
  startQualityFixture,
} from "../harness/quality.js";
import { until } from "../harness/wait.js";
import { type ConsoleResponse, startConsoleFixture } from "./fixtures/console.js";

/** What the tests read of the console's answers. */
interface HoldJson {
  holdId: string;
  lot: string;
  status: string;
  triggeredBy: string | null;
  placedBy: string;
  evidence: {
    trigger: { type: string; id: string; characteristic: string | null; summary: string }[];
    scope: string | null;
    scopeOf: string | null;
    lots: { lot: string; product: string; status: string }[];
    shipments: { pickingRef: string; state: string }[];
  };
}
interface ShipmentJson {
  pickingRef: string;
  state: string;
  holds: string[];
}
interface ChartJson {
  limits: { center: number; lcl: number; ucl: number };
  spec: { lower: number | null; upper: number | null; unit: string | null } | null;
  points: { value: number; violations: string[] }[];
  pointsLeftOut: number;
  violations: { ruleId: string; endedAt: string | null; lot: string | null }[];
}
interface TraceJson {
  depth: number;
  nodes: { lot: string; depth: number; more: boolean }[];
  edges: { parent: string; child: string; quantity: string }[];
  shipments: { pickingRef: string }[];
}

/** The answer is an error of that status and code whose message matches every pattern. */
function refused(res: ConsoleResponse, status: number, code: string, ...patterns: RegExp[]): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.error?.code, code, res.text);
  for (const pattern of patterns) assert.match(res.body.error.message, pattern);
}

function ok(res: ConsoleResponse): ConsoleResponse {
  assert.equal(res.status, 200, res.text);
  return res;
}

/** The gate's decisions on a delivery, in stream order. */
async function gateDecisions(q: QualityFixture, pickingRef: string) {
  const blocked = (await storedEvents(q.nc, "mfg.shipping.shipment_blocked.v1", SITE)).filter(
    (e) => e.value.pickingRef === pickingRef,
  );
  const cleared = (await storedEvents(q.nc, "mfg.shipping.shipment_cleared.v1", SITE)).filter(
    (e) => e.value.pickingRef === pickingRef,
  );
  return [
    ...blocked.map((e) => ({ seq: e.seq, kind: "blocked" as const, wasBlocked: false })),
    ...cleared.map((e) => ({ seq: e.seq, kind: "cleared" as const, wasBlocked: e.value.wasBlocked })),
  ].sort((a, b) => a.seq - b.seq);
}

const lastDecision = async (q: QualityFixture, pickingRef: string, n: number) =>
  until(`${pickingRef} decided ${n} time(s)`, async () => {
    const d = await gateDecisions(q, pickingRef);
    return d.length >= n ? d[n - 1] : undefined;
  });

test("ops console - quality holds, their release, the gate, SPC charts and lot genealogy through the console", async (t) => {
  const q = await startQualityFixture(t);
  const f = await startConsoleFixture(
    {
      server: q.server,
      env: {
        SITE,
        QUALITY_URL: q.service().url,
        // alice's token: read, hold and release at the quality service.
        QUALITY_API_TOKEN: QUALITY_USERS.alice.token,
        GENEALOGY_URL: q.env["GENEALOGY_URL"] as string,
        GENEALOGY_API_TOKEN: GENEALOGY_TOKEN,
        UPSTREAM_TIMEOUT_MS: "3000",
      },
    },
    t,
  );
  const [quinn, viola, otto] = [await f.signIn("quinn"), await f.signIn("viola"), await f.signIn("otto")];

  // The press runs INT-001 and goes beyond its upper limit (103) for three points: one episode of
  // Nelson rule 1, which holds INT-001 and, forward, the discs FG-001 made of it.
  await dispatchPressLot(q);
  const t0 = Date.now() - 60_000;
  const values = [100.2, 99.8, 100.1, 99.9, 104, 104.5, 105, 100.1, 99.9];
  for (const [i, value] of values.entries())
    await q.publish(
      "mfg.machine.telemetry_sampled.v1",
      {
        equipment: { ...LINE_1, machine: "press-1" },
        samples: [
          { tag: "force", value, quality: "GOOD", sourceTime: new Date(t0 + i * 1000), dataType: "DOUBLE" },
        ],
      },
      { key: "press-1", line: "line-1", machine: "press-1" },
    );
  // Discs of FG-001 on a delivery: blocked by those holds.
  await q.publish("mfg.shipping.shipment_requested.v1", shipmentRequested("WH/OUT/00102", 102n, "FG-001"), {
    key: "WH/OUT/00102",
  });
  // Discs of a lot the genealogy does not know, on another delivery: cleared, then held by hand.
  await q.publish("mfg.shipping.shipment_requested.v1", shipmentRequested("WH/OUT/00101", 101n, "FG-900"), {
    key: "WH/OUT/00101",
  });
  assert.equal((await lastDecision(q, "WH/OUT/00101", 1)).kind, "cleared");
  const placed = await q.api("POST", "/quality/holds", "alice", {
    site: SITE,
    lot: "FG-900",
    product: "FG-1",
    reason: "burr on the bore, seen at the packing station",
    scope: { forward: false, backward: false },
  });
  assert.equal(placed.status, 201, JSON.stringify(placed.body));
  const manualHold = placed.body.holds[0].holdId as string;
  assert.equal((await lastDecision(q, "WH/OUT/00101", 2)).kind, "blocked");
  assert.equal((await lastDecision(q, "WH/OUT/00102", 1)).kind, "blocked");
  await until("the SPC episode ended", async () =>
    (await storedEvents(q.nc, "mfg.quality.spc_violation_ended.v1", SITE)).length > 0 ? true : undefined,
  );

  let spcHold = "";

  await t.test(
    "the active holds are listed with their evidence: the SPC violation, the scope, the lots held together, the deliveries blocked",
    async () => {
      const res = ok(await viola.get("/api/quality/holds"));
      const holds: HoldJson[] = res.body.holds;
      const byLot = new Map(holds.map((h) => [h.lot, h]));
      assert.deepEqual([...byLot.keys()].sort(), ["FG-001", "FG-900", "INT-001"]);
      const held = (lot: string): HoldJson => {
        const h = byLot.get(lot);
        assert.ok(h, `a hold on ${lot}`);
        return h;
      };
      const int = held("INT-001");
      const fg = held("FG-001");
      spcHold = int.holdId;
      assert.equal(int.status, "ACTIVE");
      assert.equal(int.evidence.trigger.length, 1, JSON.stringify(int.evidence));
      const trigger = int.evidence.trigger[0];
      assert.ok(trigger);
      assert.equal(trigger.type, "mfg.quality.spc_violation_detected.v1");
      assert.equal(trigger.id, int.triggeredBy);
      assert.equal(trigger.characteristic, "press-force");
      assert.match(trigger.summary, /rule 1 on force/);
      assert.match(trigger.summary, /104 against 97 … 103/);
      assert.match(int.evidence.scope ?? "", /this lot and the lots made from it/);
      assert.deepEqual(
        int.evidence.lots.map((l) => [l.lot, l.product, l.status]),
        [["FG-001", "FG-1", "ACTIVE"]],
        "the disc lot is held for the same violation",
      );
      assert.match(fg.evidence.scope ?? "", /made from lot INT-001/);
      assert.equal(fg.evidence.scopeOf, int.holdId);
      assert.deepEqual(
        fg.evidence.shipments.map((s) => [s.pickingRef, s.state]),
        [["WH/OUT/00102", "blocked"]],
      );
      const manual = held("FG-900");
      assert.deepEqual(manual.evidence.trigger, [], "placed by hand");
      assert.equal(manual.triggeredBy, null);
      assert.equal(manual.placedBy, "alice");
      assert.deepEqual(
        manual.evidence.shipments.map((s) => [s.pickingRef, s.state]),
        [["WH/OUT/00101", "blocked"]],
      );
      const one = ok(await viola.get(`/api/quality/holds/${manualHold}`));
      assert.equal(one.body.reason, "burr on the bore, seen at the packing station");
      refused(await viola.get("/api/quality/holds/H-0000"), 404, "CONSOLE_NOT_FOUND", /no hold H-0000/);
      refused(
        await viola.get("/api/quality/holds?status=open"),
        400,
        "CONSOLE_REQUEST_INVALID",
        /query\.status/,
      );
    },
  );

  await t.test(
    "the shipments the gate watches: blocked ones first, with the holds that block them",
    async () => {
      const res = ok(await viola.get("/api/quality/shipments"));
      assert.equal(res.body.blocked, 2);
      const shipments: ShipmentJson[] = res.body.shipments;
      const byRef = new Map(shipments.map((s) => [s.pickingRef, s]));
      assert.equal(byRef.get("WH/OUT/00101")?.state, "blocked");
      assert.deepEqual(byRef.get("WH/OUT/00101")?.holds, [manualHold]);
      assert.equal(byRef.get("WH/OUT/00102")?.state, "blocked");
    },
  );

  await t.test(
    "a viewer's and an operator's release are 403 naming the quality role, audited as refused; the hold stays active",
    async () => {
      const body = { disposition: "release", comment: "looks fine to me" };
      refused(
        await viola.post(`/api/quality/holds/${manualHold}/decision`, body),
        403,
        "CONSOLE_FORBIDDEN",
        /decideHold needs the quality role; viola has viewer/,
      );
      refused(
        await otto.post(`/api/quality/holds/${manualHold}/decision`, body),
        403,
        "CONSOLE_FORBIDDEN",
        /needs the quality role; otto has viewer, operator/,
      );
      assert.equal(ok(await viola.get(`/api/quality/holds/${manualHold}`)).body.status, "ACTIVE");
      assert.equal((await storedEvents(q.nc, "mfg.quality.quality_hold_released.v1", SITE)).length, 0);
      const audit = await listAudit(f.nc, { action: "hold-decision" });
      assert.deepEqual(
        audit.map((r) => [r.outcome, r.who.split(" ")[0], r.selection["request"], r.selection["params"]]),
        [
          ["refused", "viola", "POST /api/quality/holds/:holdId/decision", { holdId: manualHold }],
          ["refused", "otto", "POST /api/quality/holds/:holdId/decision", { holdId: manualHold }],
        ],
      );
    },
  );

  await t.test(
    "a bad disposition, a comment too short, a malformed hold id are 400 naming the field; nothing is decided",
    async () => {
      const url = `/api/quality/holds/${manualHold}/decision`;
      refused(
        await quinn.post(url, { disposition: "approve", comment: "looks fine" }),
        400,
        "CONSOLE_REQUEST_INVALID",
        /body\.disposition: must be release, scrap, rework or return/,
      );
      refused(
        await quinn.post(url, { disposition: "release", comment: " ok " }),
        400,
        "CONSOLE_REQUEST_INVALID",
        /body\.comment: must say why, in at least 3 characters/,
      );
      refused(
        await quinn.post(url, { disposition: "release" }),
        400,
        "CONSOLE_REQUEST_INVALID",
        /body\.comment/,
      );
      refused(
        await quinn.post("/api/quality/holds/not%20a%20hold/decision", {
          disposition: "release",
          comment: "fine",
        }),
        400,
        "CONSOLE_REQUEST_INVALID",
        /params\.holdId: is not a hold id/,
      );
      assert.equal((await storedEvents(q.nc, "mfg.quality.quality_hold_released.v1", SITE)).length, 0);
    },
  );

  await t.test(
    "a quality user's release with a comment releases the hold, names the user in the decision, is audited, and the gate clears the delivery",
    async () => {
      const res = ok(
        await quinn.post(`/api/quality/holds/${manualHold}/decision`, {
          disposition: "release",
          comment: "burr removed on all 10 discs, checked by QA",
        }),
      );
      assert.equal(res.body.status, "RELEASED");
      assert.equal(
        res.body.decision.reason,
        "[quinn via ops-console] burr removed on all 10 discs, checked by QA",
      );
      const [released] = await storedEvents(q.nc, "mfg.quality.quality_hold_released.v1", SITE);
      assert.equal(released?.value.holdId, manualHold);
      assert.equal(released?.value.status, "RELEASED");
      assert.match(released?.value.reason ?? "", /^\[quinn via ops-console\] burr removed/);
      assert.equal(released?.value.releasedBy, "alice", "the quality service's user of the console's token");
      const cleared = await lastDecision(q, "WH/OUT/00101", 3);
      assert.deepEqual(cleared, { ...cleared, kind: "cleared", wasBlocked: true });
      const done = (await listAudit(f.nc, { action: "hold-decision" })).filter((r) => r.outcome === "done");
      assert.equal(done.length, 1);
      assert.match(done[0]?.who ?? "", /^quinn \[local:quinn\] via ops-console@/);
      assert.deepEqual(done[0]?.selection, {
        holdId: manualHold,
        lot: "FG-900",
        product: "FG-1",
        site: SITE,
        via: "ops-console",
      });
      assert.equal(done[0]?.details["disposition"], "release");
      assert.equal(done[0]?.details["status"], "RELEASED");
      // A decision is final: the quality service's refusal is passed on, and audited as failed.
      refused(
        await quinn.post(`/api/quality/holds/${manualHold}/decision`, {
          disposition: "scrap",
          comment: "changed my mind",
        }),
        502,
        "CONSOLE_UPSTREAM_FAILED",
        /quality service answered 409 QUALITY_HOLD_ALREADY_DECIDED: hold .* was already released by alice/,
      );
      const failed = (await listAudit(f.nc, { action: "hold-decision" })).filter(
        (r) => r.outcome === "failed",
      );
      assert.equal(failed.length, 1);
      const shipments: ShipmentJson[] = ok(await viola.get("/api/quality/shipments")).body.shipments;
      assert.equal(shipments.find((s) => s.pickingRef === "WH/OUT/00101")?.state, "cleared");
      assert.equal(
        ok(await viola.get(`/api/quality/holds/${spcHold}`)).body.status,
        "ACTIVE",
        "the other holds stand",
      );
    },
  );

  await t.test(
    "the chart of press-force: its limits, the points from the telemetry, the violating ones marked, the violation",
    async () => {
      const list: { id: string }[] = ok(await viola.get("/api/quality/characteristics")).body.characteristics;
      assert.deepEqual(list.map((c) => c.id).sort(), ["disc-bore", "press-force"]);
      const res = ok(await viola.get("/api/quality/charts/press-force?since=1h"));
      const c: ChartJson = res.body;
      assert.deepEqual([c.limits.center, c.limits.lcl, c.limits.ucl], [100, 97, 103]);
      assert.deepEqual(
        c.points.map((p) => p.value),
        values,
      );
      assert.deepEqual(
        c.points.filter((p) => p.violations.length > 0).map((p) => [p.value, p.violations]),
        [
          [104, ["nelson-1"]],
          [104.5, ["nelson-1"]],
          [105, ["nelson-1"]],
        ],
      );
      assert.equal(c.violations.length, 1);
      assert.equal(c.violations[0]?.ruleId, "nelson-1");
      assert.ok(c.violations[0]?.endedAt, "the episode ended");
      assert.equal(c.violations[0]?.lot, "INT-001");
      // The window and the cap bound it.
      const later = ok(await viola.get(`/api/quality/charts/press-force?since=${new Date().toISOString()}`));
      assert.equal(later.body.points.length, 0, "the telemetry was stored before: none in the window");
      const capped = ok(await viola.get("/api/quality/charts/press-force?since=1h&points=3"));
      assert.deepEqual(
        (capped.body as ChartJson).points.map((p) => p.value),
        [105, 100.1, 99.9],
        "the newest points",
      );
      assert.equal(capped.body.pointsLeftOut, 6);
      // An inspection chart, with its specification limits.
      const bore = ok(await viola.get("/api/quality/charts/disc-bore")).body;
      assert.deepEqual([bore.spec.lower, bore.spec.upper, bore.spec.unit], [11.95, 12.05, "mm"]);
      refused(
        await viola.get("/api/quality/charts/no-such-chart"),
        404,
        "CONSOLE_NOT_FOUND",
        /no characteristic no-such-chart.*press-force/,
      );
      refused(
        await viola.get("/api/quality/charts/press-force?since=yesterday"),
        400,
        "CONSOLE_REQUEST_INVALID",
        /query\.since/,
      );
    },
  );

  await t.test(
    "a lot's trace level by level, its recall report; an unknown lot is 404, a shared name asks for the product",
    async () => {
      const back: TraceJson = ok(await viola.get("/api/genealogy/lots/FG-001/trace?direction=backward")).body;
      assert.equal(back.depth, 1);
      assert.deepEqual(
        back.nodes.map((n) => [n.lot, n.depth, n.more]),
        [
          ["FG-001", 0, false],
          ["INT-001", 1, true],
        ],
        "the compact goes further back: the page may expand it",
      );
      assert.deepEqual(
        back.edges.map((e) => [e.parent, e.child, e.quantity]),
        [["FG-1/FG-001", "INT-1/INT-001", "100 Units"]],
      );
      // The page expands INT-001: the next level.
      const next: TraceJson = ok(
        await viola.get("/api/genealogy/lots/INT-001/trace?direction=backward&product=INT-1"),
      ).body;
      assert.deepEqual(
        next.nodes.map((n) => n.lot),
        ["INT-001", "LOT/2026/001"],
      );
      const deep: TraceJson = ok(
        await viola.get(
          `/api/genealogy/lots/${encodeURIComponent("LOT/2026/001")}/trace?direction=forward&depth=3`,
        ),
      ).body;
      assert.deepEqual(deep.nodes.map((n) => n.lot).sort(), ["FG-001", "INT-001", "LOT/2026/001"]);
      assert.deepEqual(
        deep.shipments.map((s) => s.pickingRef),
        ["WH/OUT/00001"],
      );
      const recall: { lotsAffected: number; customers: { customerRef: string }[] } = ok(
        await viola.get(`/api/genealogy/lots/${encodeURIComponent("LOT/2026/001")}/recall`),
      ).body;
      assert.equal(recall.lotsAffected, 3);
      assert.deepEqual(
        recall.customers.map((c) => c.customerRef),
        ["C-100"],
      );
      refused(
        await viola.get("/api/genealogy/lots/NOPE-404/trace?direction=backward"),
        404,
        "CONSOLE_NOT_FOUND",
        /no lot "NOPE-404" in the genealogy/,
      );
      refused(await viola.get("/api/genealogy/lots/NOPE-404/recall"), 404, "CONSOLE_NOT_FOUND", /NOPE-404/);
      refused(
        await viola.get("/api/genealogy/lots/SHARED-9/trace?direction=backward"),
        400,
        "CONSOLE_REQUEST_INVALID",
        /exists for 2 products \(RAW-1, RAW-2\).*query\.product/,
      );
      refused(
        await viola.get("/api/genealogy/lots/FG-001/trace?direction=sideways"),
        400,
        "CONSOLE_REQUEST_INVALID",
        /query\.direction: must be backward or forward/,
      );
    },
  );

  await t.test("an upstream outage is 502 with the other service's own words, never its token", async () => {
    q.genealogyDown = true;
    try {
      const res = await viola.get("/api/genealogy/lots/FG-001/trace?direction=backward");
      refused(
        res,
        502,
        "CONSOLE_UPSTREAM_FAILED",
        /^genealogy builder answered 503 GENEALOGY_DATABASE_UNAVAILABLE: .*starting/,
      );
      assert.ok(!res.text.includes(GENEALOGY_TOKEN));
    } finally {
      q.genealogyDown = false;
    }
  });

  await t.test("a console without the tokens says the pages are not configured", async (t2) => {
    const bare = await startConsoleFixture({ server: q.server, env: { SITE } }, t2);
    const v = await bare.signIn("viola");
    refused(
      await v.get("/api/quality/holds"),
      502,
      "CONSOLE_UPSTREAM_FAILED",
      /quality service not configured.*QUALITY_API_TOKEN/,
    );
    refused(
      await v.get("/api/genealogy/lots/FG-001/recall"),
      502,
      "CONSOLE_UPSTREAM_FAILED",
      /genealogy builder not configured.*GENEALOGY_API_TOKEN/,
    );
  });
});
