/**
 * `threadline odoo reconcile`: the production reports of the event log against what Odoo holds, as
 * an operator runs it (the real command, against the Odoo simulator and a nats-server with the
 * declared streams): no drift after postings, reports not posted yet, a quantity changed in Odoo
 * after the posting, refused credentials.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type TestContext, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { productionPostedId, startOutbound } from "../../services/odoo-connector/src/outbound/index.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import type { LocalNatsServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import {
  connectOdoo,
  connectorPublisher,
  deadLetters,
  floorPublisher,
  newOrder,
  postedOrders,
  productionReport,
  publishProductionReport,
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
    `  ok      ${bracket.name}: logged 7, in Odoo 7, drift 0`,
    `  ok      ${cabinet.name}: logged 6, in Odoo 6, drift 0`,
    "no drift",
  ]);

  assert.equal(json.code, 0, json.stdout + json.stderr);
  const report = JSON.parse(json.stdout);
  assert.equal(report.events, 3);
  assert.deepEqual(report.drifting, []);
  assert.deepEqual(report.orders, [
    {
      orderRef: bracket.name,
      logged: 7,
      posted: 7,
      unposted: [],
      deadLettered: [],
      mismatched: [],
      drift: 0,
    },
    {
      orderRef: cabinet.name,
      logged: 6,
      posted: 6,
      unposted: [],
      deadLettered: [],
      mismatched: [],
      drift: 0,
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
    `  ok      ${bracket.name}: logged 7, in Odoo 7, drift 0`,
    `  waiting ${cabinet.name}: logged 8, in Odoo 6, drift 0, 1 not posted yet`,
    "no drift",
  ]);
  const metrics = fs.readFileSync(prom, "utf8");
  assert.match(
    metrics,
    new RegExp(`^threadline_erp_drift_quantity\\{order_ref="${cabinet.name}"\\} 0$`, "m"),
  );
  assert.match(metrics, /^threadline_erp_reconcile_unposted_events 1$/m);
  assert.deepEqual(await postedOrders(s.sim, [waiting]), []);
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
    `  ok      ${bracket.name}: logged 7, in Odoo 7, drift 0`,
    `  ok      ${cabinet.name}: logged 6, in Odoo 6, drift 0`,
    "  DRIFT   WH/MO/99999: logged 5, in Odoo 0, drift -5",
    `          event ${lost}: dead-lettered (ODOO_ORDER_NOT_FOUND), never posted`,
    "1 orders drift",
  ]);
});

test("odoo reconcile - a quantity changed in Odoo after the posting: exit 1 and a DRIFT line naming the order and the event", async (t) => {
  const s = await setUp(t);
  const { bracket, cabinet, ids } = await reportTwoOrders(s);
  await postAll(t, s, ids);
  // Someone unlocks the done order of the second report and edits its produced quantity (4 → 9).
  const [tampered] = await postedOrders(s.sim, [ids[1] as string]);
  assert.ok(tampered);
  const [mo] = await s.sim.env.read("mrp.production", [tampered.id], ["move_finished_ids"]);
  await s.sim.env.write("stock.move", mo?.["move_finished_ids"] as number[], { quantity: 9 });
  assert.equal((await postedOrders(s.sim, [ids[1] as string]))[0]?.qtyProduced, 9);
  const prom = tempFile(t, "drift.prom");

  const run = await reconcileCli(s, ["--since", "1h", "--prom", prom]);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.deepEqual(run.stdout.trim().split("\n").slice(1), [
    `  DRIFT   ${bracket.name}: logged 7, in Odoo 12, drift 5`,
    `          event ${ids[1]}: reported 4, Odoo holds 9`,
    `  ok      ${cabinet.name}: logged 6, in Odoo 6, drift 0`,
    "1 orders drift",
  ]);
  assert.match(
    fs.readFileSync(prom, "utf8"),
    new RegExp(`^threadline_erp_drift_quantity\\{order_ref="${bracket.name}"\\} 5$`, "m"),
  );
});

test("odoo reconcile - refused credentials: exit 1 with ODOO_LOGIN_FAILED, the key never printed", async (t) => {
  const s = await setUp(t);
  const wrongKey = `wrong-${randomBytes(12).toString("hex")}`;
  const run = await reconcileCli(s, ["--since", "1h"], { ODOO_API_KEY: wrongKey });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /^threadline: error ODOO_LOGIN_FAILED: .*refused login "admin"/m);
  assert.equal(run.stdout, "");
  assert.ok(!(run.stdout + run.stderr).includes(wrongKey), "the key is printed");
  assert.ok(!(run.stdout + run.stderr).includes(s.sim.credentials.apiKey));
});
