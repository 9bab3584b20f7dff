/**
 * `threadline odoo reconcile`: the production reports of the event log against what Odoo holds, as
 * an operator runs it (the real command, against the Odoo simulator and a nats-server with the
 * declared streams): no drift after postings, reports not posted yet, dead letters, a quantity
 * changed in Odoo, an Odoo restored from an older backup under a running connector (found, then
 * repaired by replaying), every defect of the old posting model, refused credentials.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type TestContext, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import type { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import { POSTING_MODEL } from "../../services/odoo-connector/src/odoo-setup.js";
import { productionPostedId, startOutbound } from "../../services/odoo-connector/src/outbound/index.js";
import { readMessages } from "../../streams/src/read.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import type { LocalNatsServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import {
  connectOdoo,
  connectorPublisher,
  deadLetters,
  floorPublisher,
  newOrder,
  postedReports,
  producedOn,
  productionReport,
  publishProductionReport,
  republish,
  startConnector,
  startOdoo,
  startStreams,
  storedEvents,
  threadlineWithin,
} from "./fixture.js";

const SITE = "plant-r";
const POSTED = "mfg.production.production_posted.v1";

interface Setup {
  sim: OdooSimulator;
  server: LocalNatsServer;
  nc: NatsConnection;
}

async function setUp(t: TestContext): Promise<Setup> {
  const sim = await startOdoo(t, { profile: 17 });
  const { server, nc } = await startStreams(t);
  return { sim, server, nc };
}

/**
 * The connector's outbound postings (production only) until `ids` are all posted and `deadLettered`
 * reports dead-lettered, then stopped.
 */
async function postAll(
  t: TestContext,
  { sim, nc }: Setup,
  ids: readonly string[],
  deadLettered = 0,
): Promise<void> {
  const client = await connectOdoo(t, sim, { ratePerSecond: 1_000 });
  const outbound = await startOutbound({
    nc,
    client,
    publisher: connectorPublisher(nc, SITE),
    site: SITE,
    registry: new Registry(),
    only: ["production"],
    consumer: { pullExpiresMs: 1_000, drainTimeoutMs: 3_000 },
  });
  const wanted = new Set(ids.map(productionPostedId));
  await until(
    "every report posted",
    async () => (await storedEvents(nc, POSTED)).filter((e) => wanted.has(e.id)).length === ids.length,
  );
  await until(
    "the poison reports dead-lettered",
    async () =>
      (await deadLetters(nc, "MFG_PRODUCTION", "odoo-connector-production-reported")).length === deadLettered,
  );
  await outbound.stop();
}

/** `threadline odoo reconcile <args>` with the simulator's settings (and `env` over them). */
function reconcileCli({ sim, server }: Setup, args: string[], env: Record<string, string> = {}) {
  return threadlineWithin(
    ["odoo", "reconcile", ...args],
    {
      NATS_URL: server.clientUrl,
      ODOO_URL: sim.url,
      ODOO_DB: sim.db,
      ODOO_LOGIN: sim.credentials.login,
      ODOO_API_KEY: sim.credentials.apiKey,
      ...env,
    },
    60_000,
  );
}

/** Two orders: one with two reports, one with one. Returns the orders and the report ids. */
async function reportTwoOrders(s: Setup) {
  const bracket = await newOrder(s.sim, "FIN-SB20", 20);
  const cabinet = await newOrder(s.sim, "FIN-SB20", 10);
  const bridge = floorPublisher(s.nc, "machine-bridge", SITE);
  const ids = [
    await publishProductionReport(bridge, productionReport(SITE, bracket.name, 3)),
    await publishProductionReport(bridge, productionReport(SITE, bracket.name, 4)),
    await publishProductionReport(bridge, productionReport(SITE, cabinet.name, 6)),
  ];
  return { bracket, cabinet, ids };
}

const tempFile = (t: TestContext, name: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "threadline-reconcile-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, name);
};

test("odoo reconcile - after the postings: exit 0, every order ok and no drift; --json gives the report, --prom the zero drift per order", async (t) => {
  const s = await setUp(t);
  const { bracket, cabinet, ids } = await reportTwoOrders(s);
  await postAll(t, s, ids);
  const prom = tempFile(t, "drift.prom");

  const [text, json] = await Promise.all([
    reconcileCli(s, ["--since", "1h", "--prom", prom]),
    reconcileCli(s, ["--since", "1h", "--json"]),
  ]);
  assert.equal(text.code, 0, text.stdout + text.stderr);
  const lines = text.stdout.trim().split("\n");
  assert.match(lines[0] ?? "", /^window \S+ \.\. \S+: 3 production reports, 2 orders$/);
  assert.deepEqual(lines.slice(1), [
    `  ok      ${bracket.name}: counting point good 7, rejected 0; 2 reports in Odoo`,
    `  ok      ${cabinet.name}: counting point good 6, rejected 0; 1 reports in Odoo`,
    "no drift",
  ]);

  assert.equal(json.code, 0, json.stdout + json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.events, 3);
  assert.deepEqual(report.drifting, []);
  assert.deepEqual(report.orders, [
    {
      orderRef: bracket.name,
      counted: { good: "7", reject: "0" },
      posted: 2,
      waiting: [],
      findings: [],
      outputDrift: "0",
    },
    {
      orderRef: cabinet.name,
      counted: { good: "6", reject: "0" },
      posted: 1,
      waiting: [],
      findings: [],
      outputDrift: "0",
    },
  ]);
  assert.ok(Date.parse(report.since) < Date.parse(report.until));

  const metrics = fs.readFileSync(prom, "utf8");
  assert.match(metrics, /^# TYPE threadline_erp_drift_quantity gauge$/m);
  assert.match(
    metrics,
    new RegExp(`^threadline_erp_drift_quantity\\{order_ref="${bracket.name}"\\} 0$`, "m"),
  );
  assert.match(
    metrics,
    new RegExp(`^threadline_erp_drift_quantity\\{order_ref="${cabinet.name}"\\} 0$`, "m"),
  );
  assert.match(metrics, /^threadline_erp_reconcile_findings\{kind="lost"\} 0$/m);
  assert.match(metrics, /^threadline_erp_reconcile_unposted_events 0$/m);
});

test("odoo reconcile - a report the connector has not posted yet is listed as waiting, not as drift: exit 0", async (t) => {
  const s = await setUp(t);
  const { bracket, cabinet, ids } = await reportTwoOrders(s);
  await postAll(t, s, ids);
  // The connector is not running: this one waits in the stream.
  const waiting = await publishProductionReport(
    floorPublisher(s.nc, "machine-bridge", SITE),
    productionReport(SITE, cabinet.name, 2),
  );

  const prom = tempFile(t, "drift.prom");
  const run = await reconcileCli(s, ["--since", "1h", "--prom", prom]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.deepEqual(run.stdout.trim().split("\n").slice(1), [
    `  ok      ${bracket.name}: counting point good 7, rejected 0; 2 reports in Odoo`,
    `  waiting ${cabinet.name}: counting point good 8, rejected 0; 1 reports in Odoo, 1 not posted yet`,
    "no drift",
  ]);
  assert.match(fs.readFileSync(prom, "utf8"), /^threadline_erp_reconcile_unposted_events 1$/m);
  assert.deepEqual(await postedReports(s.sim, [waiting]), []);
});

test("odoo reconcile - a report the connector dead-lettered will never be posted: exit 1, DRIFT naming the event and its code", async (t) => {
  const s = await setUp(t);
  const { bracket, cabinet, ids } = await reportTwoOrders(s);
  const lost = await publishProductionReport(
    floorPublisher(s.nc, "machine-bridge", SITE),
    productionReport(SITE, "WH/MO/99999", 5),
  );
  await postAll(t, s, ids, 1);

  const run = await reconcileCli(s, ["--since", "1h"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.deepEqual(run.stdout.trim().split("\n").slice(1), [
    `  ok      ${bracket.name}: counting point good 7, rejected 0; 2 reports in Odoo`,
    `  ok      ${cabinet.name}: counting point good 6, rejected 0; 1 reports in Odoo`,
    "  DRIFT   WH/MO/99999: counting point good 5, rejected 0; 0 reports in Odoo",
    `          dead_lettered: event ${lost} (line-1/m1) was dead-lettered (CONNECTOR_ORDER_NOT_FOUND) and is not in Odoo: fix the cause, then redrive it`,
    "1 orders drift",
  ]);
});

test("odoo reconcile - a machine counting Units on an order in Dozens, rejects in Dozens: compared in the order's unit, no drift; kg rejects are the dead letter naming both units", async (t) => {
  const s = await setUp(t);
  const [product] = await s.sim.env.search("product.product", [["default_code", "=", "FIN-SB20"]]);
  const [dozens] = await s.sim.env.search("uom.uom", [["name", "=", "Dozens"]]);
  const id = await s.sim.env.create("mrp.production", {
    product_id: product,
    product_qty: 5,
    product_uom_id: dozens,
  });
  await s.sim.env.call("mrp.production", "action_confirm", [[id]]);
  const [row] = await s.sim.env.read("mrp.production", [id], ["name"]);
  const name = String(row?.["name"]);
  const bridge = floorPublisher(s.nc, "machine-bridge", SITE);
  const ids = [
    await publishProductionReport(bridge, productionReport(SITE, name, 24)),
    await publishProductionReport(bridge, {
      ...productionReport(SITE, name, 6),
      rejectQuantity: { value: "0.5", uom: "Dozens" },
    }),
  ];
  const poison = await publishProductionReport(bridge, {
    ...productionReport(SITE, name, 12),
    rejectQuantity: { value: "1", uom: "kg" },
  });
  await postAll(t, s, ids, 1);
  assert.equal(await producedOn(s.sim, id), 3, "24 + 6 Units and half a Dozen rejected: 3 Dozens");

  const run = await reconcileCli(s, ["--since", "1h"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.deepEqual(run.stdout.trim().split("\n").slice(1), [
    `  DRIFT   ${name}: counting point good 3.5, rejected 0.5; 2 reports in Odoo`,
    `          dead_lettered: event ${poison} (line-1/m1) was dead-lettered (UOM_CATEGORY_MISMATCH) and is not in Odoo: fix the cause, then redrive it`,
    "1 orders drift",
  ]);
});

test("odoo reconcile - a quantity changed in Odoo after the posting: exit 1, the order named with both quantities", async (t) => {
  const s = await setUp(t);
  const { bracket, cabinet, ids } = await reportTwoOrders(s);
  await postAll(t, s, ids);
  // Someone edits the quantity in production on the form (7 → 12).
  await s.sim.env.write("mrp.production", [bracket.id], { qty_producing: 12 });
  const prom = tempFile(t, "drift.prom");

  const run = await reconcileCli(s, ["--since", "1h", "--prom", prom]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const out = run.stdout.trim().split("\n");
  assert.equal(out[1], `  DRIFT   ${bracket.name}: counting point good 7, rejected 0; 2 reports in Odoo`);
  assert.match(
    out[2] ?? "",
    new RegExp(
      `^          output: Odoo holds 12 produced on ${bracket.name}, the counting point's postings add up to 7 \\(more in Odoo by 5`,
    ),
  );
  assert.ok(
    out.includes(`  ok      ${cabinet.name}: counting point good 6, rejected 0; 1 reports in Odoo`),
    run.stdout,
  );
  assert.match(
    fs.readFileSync(prom, "utf8"),
    new RegExp(`^threadline_erp_drift_quantity\\{order_ref="${bracket.name}"\\} 5$`, "m"),
  );
});

test("odoo reconcile - Odoo restored from an older backup under a running connector: the postings it lost are drift, named with the events to replay; replaying them repairs it, and the service's gauges agree with the command", async (t) => {
  const sim = await startOdoo(t, { profile: 17, db: "restored" });
  const { server, nc } = await startStreams(t);
  const site = "restored";
  const connector = await startConnector(t, sim, server, site, {
    RECONCILE_INTERVAL_MS: "300",
    RECONCILE_WINDOW_MS: "3600000",
  });
  const order = await newOrder(sim, "FIN-SB20", 500);
  const backup = sim.snapshot(); // last night's backup: the order exists, nothing posted yet
  const bridge = floorPublisher(nc, "machine-bridge", site);
  const before: string[] = [];
  for (let i = 0; i < 6; i++)
    before.push(await publishProductionReport(bridge, productionReport(site, order.name, 2)));
  await until("the six postings", async () => (await postedReports(sim, before)).length === 6);
  await until("their ProductionPosted", async () => {
    const posted = new Set((await storedEvents(nc, POSTED, site)).map((e) => e.value.sourceEventId));
    return before.every((id) => posted.has(id));
  });

  sim.restore(backup); // Odoo comes back from the backup: the six postings are gone
  const after = [await publishProductionReport(bridge, productionReport(site, order.name, 3))];
  await until(
    "the report after the restore posted",
    async () => (await postedReports(sim, after)).length === 1,
  );

  const run = await reconcileCli({ sim, server, nc }, ["--since", "1h", "--json"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const [mine] = (
    JSON.parse(run.stdout) as {
      orders: { orderRef: string; findings: { kind: string; message: string; events: string[] }[] }[];
    }
  ).orders.filter((o) => o.orderRef === order.name);
  const lost = mine?.findings.find((f) => f.kind === "lost");
  assert.ok(lost, JSON.stringify(mine));
  assert.match(
    lost.message,
    /^6 report\(s\) posted \S+ are not in Odoo: restored from a backup\? Replay them to post them again$/,
  );
  assert.deepEqual([...lost.events].sort(), [...before].sort());
  await until("the service's gauge says so too", async () => {
    const metrics = await (await fetch(`${connector.service.url}/metrics`)).text();
    return /^threadline_erp_reconcile_findings\{kind="lost"\} 1$/m.test(metrics);
  });

  // Replay (until `threadline replay` exists: the same messages published again, as it will).
  for (const id of before) {
    const seq = await sequenceOf(nc, id);
    await republish(nc, "MFG_PRODUCTION", seq);
  }
  await until("the lost reports posted again", async () => (await postedReports(sim, before)).length === 6);
  const again = await reconcileCli({ sim, server, nc }, ["--since", "1h"]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(await producedOn(sim, order.id), 15, "6 × 2 + 3, each once");
  await until("the service's gauge is back to no finding", async () => {
    const metrics = await (await fetch(`${connector.service.url}/metrics`)).text();
    return /^threadline_erp_reconcile_findings\{kind="lost"\} 0$/m.test(metrics);
  });
});

test("odoo reconcile - Odoo restored from a backup taken between a posting's steps: the posting is incomplete, named with its event; replaying it finishes it", async (t) => {
  const s = await setUp(t);
  const order = await newOrder(s.sim, "FIN-SB20", 50);
  const bridge = floorPublisher(s.nc, "machine-bridge", SITE);
  const id = await publishProductionReport(bridge, productionReport(SITE, order.name, 4));
  await postAll(t, s, [id]);
  const admin = await connectOdoo(t, s.sim, { ratePerSecond: 1_000 });
  const [record] = await admin.searchRead<{ id: number }>(POSTING_MODEL, [["x_name", "=", id]], {
    fields: ["id"],
  });
  assert.ok(record, "the posting record");
  // What a backup taken after the posting's first write and before its later steps holds.
  await admin.write(POSTING_MODEL, [record.id], { x_details: JSON.stringify({ pending: true }) });

  const run = await reconcileCli(s, ["--since", "1h", "--json"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const findings = (
    JSON.parse(run.stdout) as {
      orders: { findings: { kind: string; message: string; events: string[] }[] }[];
    }
  ).orders.flatMap((o) => o.findings);
  const incomplete = findings.find((f) => f.kind === "incomplete");
  assert.ok(incomplete, JSON.stringify(findings));
  assert.deepEqual(incomplete.events, [id]);
  assert.match(
    incomplete.message,
    /in Odoo only in part .* restored from a backup taken mid-posting\? Replay/,
  );

  await republish(s.nc, "MFG_PRODUCTION", await sequenceOf(s.nc, id));
  const outbound = await startOutbound({
    nc: s.nc,
    client: admin,
    publisher: connectorPublisher(s.nc, SITE),
    site: SITE,
    registry: new Registry(),
    only: ["production"],
    consumer: { pullExpiresMs: 1_000, drainTimeoutMs: 3_000 },
  });
  t.after(() => outbound.stop());
  await until("the posting finished", async () => {
    const [row] = await admin.searchRead<{ x_details: string | false }>(
      POSTING_MODEL,
      [["x_name", "=", id]],
      {
        fields: ["x_details"],
      },
    );
    return row !== undefined && !String(row.x_details || "").includes("pending");
  });
  const again = await reconcileCli(s, ["--since", "1h"]);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.equal(await producedOn(s.sim, order.id), 4, "the replay added nothing twice");
});

test("Odoo restored from a backup in the middle of a posting: the posting starts over and the report is posted, not dead-lettered", async (t) => {
  const s = await setUp(t);
  const order = await newOrder(s.sim, "FIN-SB20", 50);
  const backup = s.sim.snapshot(); // the order exists, nothing posted yet
  const client = await connectOdoo(t, s.sim, { ratePerSecond: 1_000 });
  // The restore lands between the posting's first write (its record, pending) and the write that
  // completes it: that record is gone when the posting writes to it (Odoo's MissingError).
  const write = client.write.bind(client);
  let restores = 0;
  client.write = async (model, ids, values, options) => {
    if (model === POSTING_MODEL && restores === 0) {
      restores++;
      s.sim.restore(backup);
    }
    return write(model, ids, values, options);
  };
  const bridge = floorPublisher(s.nc, "machine-bridge", SITE);
  const id = await publishProductionReport(bridge, productionReport(SITE, order.name, 4));
  const outbound = await startOutbound({
    nc: s.nc,
    client,
    publisher: connectorPublisher(s.nc, SITE),
    site: SITE,
    registry: new Registry(),
    only: ["production"],
    consumer: { pullExpiresMs: 1_000, drainTimeoutMs: 3_000, retryBackoff: { initialDelayMs: 50 } },
  });
  t.after(() => outbound.stop());
  await until("the report posted", async () =>
    (await storedEvents(s.nc, POSTED)).some((e) => e.id === productionPostedId(id)),
  );
  assert.equal(restores, 1, "Odoo was restored mid-posting");
  assert.deepEqual(await deadLetters(s.nc, "MFG_PRODUCTION", "odoo-connector-production-reported"), []);
  assert.equal(await producedOn(s.sim, order.id), 4, "posted once, after the restore");
  const run = await reconcileCli(s, ["--since", "1h"]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
});

test("odoo reconcile - every defect of the old posting model is found: upstream machines counted as finished goods, components never consumed, an order closed per report with made-up work-centre time", async (t) => {
  const s = await setUp(t);
  const mo = await newOrder(s.sim, "FIN-HJ250", 100);
  const bridge = floorPublisher(s.nc, "machine-bridge", SITE);
  const admin = await connectOdoo(t, s.sim, { ratePerSecond: 1_000 });
  const ids: string[] = [];
  for (const [machine, counting] of [
    ["filler-1", false],
    ["capper-1", false],
    ["labeler-1", true],
  ] as const) {
    const value = { ...productionReport(SITE, mo.name, 5), countingPoint: counting, lot: "LOT-OLD" };
    value.equipment = { ...value.equipment, machine };
    const id = await publishProductionReport(bridge, value);
    ids.push(id);
    await oldPosting(admin, mo.name, id, value.countingPoint, 5);
  }
  const run = await reconcileCli(s, ["--since", "1h", "--json"]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  const report = JSON.parse(run.stdout) as {
    orders: { orderRef: string; findings: { kind: string; message: string }[] }[];
  };
  const findings = report.orders.flatMap((o) => o.findings);
  const kinds = new Set(findings.map((f) => f.kind));
  for (const kind of ["output", "components", "closed_without_run_end", "time"])
    assert.ok(kinds.has(kind), `${kind} found: ${JSON.stringify(findings, null, 1)}`);
  assert.equal(
    findings.filter(
      (f) =>
        f.kind === "output" &&
        /the counting point's postings add up to 0 \(more in Odoo by 5/.test(f.message),
    ).length,
    2,
    "the two upstream machines' counts, each booked as finished goods on an order of its own",
  );
  assert.ok(
    findings.some((f) => f.kind === "components" && /COMP-JAR consumed 0, the BoM expects 5/.test(f.message)),
  );
  assert.ok(
    findings.some(
      (f) => f.kind === "time" && /the machines ran 0\.00 min \(Odoo's expected duration/.test(f.message),
    ),
  );
});

/**
 * The posting model this issue replaced, kept here to prove reconciliation catches it: every
 * machine's count written as `qty_producing` (a plain write: no component consumed), the order
 * marked done at once with a backorder for the rest (the consumption warning confirmed blindly).
 */
async function oldPosting(
  admin: OdooClient,
  ref: string,
  eventId: string,
  countingPoint: boolean,
  good: number,
) {
  const [open] = await admin.searchRead(
    "mrp.production",
    [
      "|",
      ["name", "=", ref],
      ["name", "=like", `${ref}-%`],
      ["state", "in", ["confirmed", "progress", "to_close"]],
    ],
    { fields: ["id"], order: "id desc", limit: 1 },
  );
  const id = open?.["id"] as number;
  const [order] = await admin.read("mrp.production", [id], ["product_id"]);
  const product = (order?.["product_id"] as [number, string] | undefined)?.[0];
  const [lot] = await admin.search("stock.lot", [["name", "=", "LOT-OLD"]]);
  const lotId = lot ?? (await admin.create("stock.lot", { name: "LOT-OLD", product_id: product }));
  await admin.write("mrp.production", [id], {
    qty_producing: good,
    lot_producing_id: lotId,
    x_threadline_posting_ids: [
      [
        0,
        0,
        {
          x_name: eventId,
          x_kind: "report",
          x_production_id: id,
          x_counting_point: countingPoint,
          x_good_qty: good,
          x_reject_qty: 0,
        },
      ],
    ],
  });
  await admin.call("mrp.production", "button_mark_done", {
    ids: [id],
    context: { skip_consumption: true, skip_backorder: true, mo_ids_to_backorder: [id] },
  });
}

/** The stream sequence of the event with this ce-id (the replay of a lost posting). */
async function sequenceOf(nc: NatsConnection, ceId: string): Promise<number> {
  for await (const m of readMessages(nc, { stream: "MFG_PRODUCTION", headersOnly: true }))
    if (m.headers?.get("ce-id") === ceId) return m.seq;
  throw new Error(`no event ${ceId} in MFG_PRODUCTION`);
}

test("odoo reconcile - refused credentials: exit 1 with CONNECTOR_LOGIN_FAILED, the key never printed", async (t) => {
  const s = await setUp(t);
  const wrongKey = `wrong-${randomBytes(12).toString("hex")}`;
  const run = await reconcileCli(s, ["--since", "1h"], { ODOO_API_KEY: wrongKey });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /^threadline: error CONNECTOR_LOGIN_FAILED: .*refused login "admin"/m);
  assert.equal(run.stdout, "");
  assert.ok(!(run.stdout + run.stderr).includes(wrongKey), "the key is printed");
  assert.ok(!(run.stdout + run.stderr).includes(s.sim.credentials.apiKey));
});
