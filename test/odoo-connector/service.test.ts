/**
 * The Odoo connector as operators run it: `threadline odoo run` refusing a wrong Odoo or a bad
 * setting at start, then the whole service (inbound sync, outbound postings, webhook route, health
 * and metrics) against the Odoo simulator and a nats-server with the declared streams, for every
 * supported Odoo version, through an Odoo outage, and as its least-privilege NATS user.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { type TestContext, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";
import { CONNECTOR_DURABLES, odooConnectorManifest } from "../../services/odoo-connector/src/manifest.js";
import { productionPostedId } from "../../services/odoo-connector/src/outbound/index.js";
import { ConfigError } from "../../streams/src/index.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { platformDeclarations } from "../../tools/manifests.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import { connectTo, type LocalNatsServer, startTestServer } from "../harness/nats.js";
import { leastPrivilege } from "../harness/permissions.js";
import { until } from "../harness/wait.js";
import {
  type Connector,
  closedPort,
  deadLetters,
  floorPublisher,
  newOrder,
  postedReports,
  producedOn,
  productionReport,
  publishProductionReport,
  startConnector,
  startOdoo,
  startStreams,
  storedEvents,
  threadlineWithin,
} from "./fixture.js";

const RELEASED = "mfg.production.production_order_released.v1";
const POSTED = "mfg.production.production_posted.v1";
const REPORTED_DURABLE = CONNECTOR_DURABLES.production;
/** Order states the inbound sync releases (past draft, not cancelled). */
const RELEASED_STATES = ["confirmed", "progress", "to_close", "done"];

const released = async (nc: NatsConnection, site: string) =>
  (await storedEvents(nc, RELEASED, site)).map((e) => e.value.orderRef);

async function releasedStateOrders(sim: OdooSimulator): Promise<string[]> {
  const rows = await sim.env.searchRead("mrp.production", [["state", "in", RELEASED_STATES]], ["name"]);
  return rows.map((r) => String(r["name"]));
}

/**
 * What an operator sees of a running connector, one profile: the seeded released orders, a draft
 * confirmed in Odoo, a production report posted, /readyz and /metrics.
 */
async function endToEnd(
  t: TestContext,
  sim: OdooSimulator,
  server: LocalNatsServer,
  nc: NatsConnection,
  site: string,
  env: Record<string, string> = {},
): Promise<Connector> {
  const connector = await startConnector(t, sim, server, site, env);
  const wait = {
    timeoutMs: 15_000,
    detail: () => `NATS errors: ${connector.natsErrors.join("; ") || "none"}`,
  };
  const seeded = (await releasedStateOrders(sim)).sort();
  await until(
    "the seeded orders released",
    async () => JSON.stringify((await released(nc, site)).sort()) === JSON.stringify(seeded),
    wait,
  );

  const draft = await newOrder(sim, "FIN-SB20", 8, { draft: true });
  await new Promise((r) => setTimeout(r, 700)); // two polls: a draft is not released
  assert.ok(!(await released(nc, site)).includes(draft.name), "a draft order is not released");
  await sim.env.call("mrp.production", "action_confirm", [[draft.id]]);
  const confirmedAt = Date.now();
  const [event] = await until(
    "the confirmed order released",
    async () => {
      const events = (await storedEvents(nc, RELEASED, site)).filter((e) => e.value.orderRef === draft.name);
      return events.length > 0 && events;
    },
    wait,
  );
  assert.ok(Date.now() - confirmedAt < 5_000, "released within a few polls");
  assert.equal(event?.value.odooOrderId, BigInt(draft.id));
  assert.equal(Number(event?.value.quantity.value), 8);

  const bridge = floorPublisher(nc, "machine-bridge", site);
  const reportId = await publishProductionReport(bridge, productionReport(site, draft.name, 5));
  const [posted] = await until(
    "ProductionPosted",
    async () => {
      const p = (await storedEvents(nc, POSTED, site)).filter((e) => e.id === productionPostedId(reportId));
      return p.length > 0 && p;
    },
    wait,
  );
  assert.equal(posted?.value.sourceEventId, reportId);
  assert.equal(posted?.value.orderRef, draft.name);
  assert.equal(Number(posted?.value.postedGoodQuantity.value), 5);
  assert.deepEqual(
    (await postedReports(sim, [reportId])).map((o) => [o.order, o.good]),
    [[draft.name, 5]],
    "Odoo holds the report's posting, on the order",
  );
  assert.equal(await producedOn(sim, draft.id), 5, "in production on the open order, not closed");

  const { url } = connector.service;
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200, await ready.text());
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(
    metrics,
    /^threadline_erp_postings_total\{event_type="mfg\.production\.production_reported\.v1",outcome="applied"\} [1-9]/m,
  );
  assert.match(
    metrics,
    /^threadline_odoo_requests_total\{model="mrp\.production",method="[a-z_]+",outcome="ok"\} [1-9]/m,
  );
  return connector;
}

// ---------------------------------------------------------------------------------------- start

test("odoo run - a wrong Odoo URL, database or API key stops the start at once with one JSON line naming it (never the key), exit 1; a bad setting names the variable", async (t) => {
  const sim = await startOdoo(t, { profile: 17 });
  const { server } = await startStreams(t);
  const wrongKey = `wrong-${randomBytes(12).toString("hex")}`;
  const run = async (env: Record<string, string>) => {
    const r = await threadlineWithin(["odoo", "run"], {
      NATS_URL: server.clientUrl,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      ODOO_URL: sim.url,
      ODOO_DB: sim.db,
      ODOO_LOGIN: sim.credentials.login,
      ODOO_API_KEY: sim.credentials.apiKey,
      ...env,
    });
    return { ...r, output: r.stdout + r.stderr };
  };
  const deadUrl = `http://127.0.0.1:${await closedPort()}`;
  const [unreachable, unknownDb, refused, ftp, shortToken] = await Promise.all([
    run({ ODOO_URL: deadUrl }),
    run({ ODOO_DB: "no_such_db" }),
    run({ ODOO_API_KEY: wrongKey }),
    run({ ODOO_URL: "ftp://x" }),
    run({ WEBHOOK_TOKEN: "too-short" }),
  ]);
  // A failed start is one JSON line on stdout with the catalogued code (streams/src/start.ts), exit 1.
  const failure = (r: { stdout: string; stderr: string }) => {
    const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
    const fatal = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l["level"] === 60); // pino: 60 = fatal;
    assert.equal(fatal.length, 1, `one failure line: ${r.stdout}`);
    assert.equal(r.stderr, "", "nothing on stderr (no stack trace)");
    return fatal[0] as { code: string; msg: string; key?: string };
  };
  for (const [r, code, mentions] of [
    [unreachable, "CONNECTOR_ODOO_UNREACHABLE", deadUrl],
    [unknownDb, "CONNECTOR_DATABASE_UNKNOWN", "no_such_db"],
    [refused, "CONNECTOR_LOGIN_FAILED", `"${sim.credentials.login}"`],
  ] as const) {
    assert.equal(r.code, 1, `${code}: ${r.code === null ? "still running after 30 s" : ""} ${r.output}`);
    const line = failure(r);
    assert.equal(line.code, code);
    assert.ok(line.msg.includes(mentions), `${code} names ${mentions}: ${line.msg}`);
    assert.ok(!r.output.includes(sim.credentials.apiKey), `${code}: the API key is printed`);
    assert.ok(!r.output.includes(wrongKey), `${code}: the wrong API key is printed`);
  }
  for (const [r, key, message] of [
    [ftp, "ODOO_URL", /ODOO_URL /],
    [shortToken, "WEBHOOK_TOKEN", /WEBHOOK_TOKEN .*at least 24 characters/],
  ] as const) {
    assert.equal(r.code, 1, r.output);
    const line = failure(r);
    assert.equal(line.code, "CONFIG_INVALID");
    assert.equal(line.key, key);
    assert.match(line.msg, message);
  }
  for (const r of [ftp, shortToken]) assert.ok(!r.output.includes(sim.credentials.apiKey));
});

test("odoo run - as a process: ready on /readyz, the API key in none of its logs (debug level), exit 0 on SIGTERM after draining", async (t) => {
  const sim = await startOdoo(t, { profile: 18 });
  const { server } = await startStreams(t);
  const port = await closedPort();
  const child = spawn(process.execPath, [path.join(PACKAGE_ROOT, "bin/threadline.js"), "odoo", "run"], {
    env: {
      ...process.env,
      NATS_URL: server.clientUrl,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(port),
      ODOO_URL: sim.url,
      ODOO_DB: sim.db,
      ODOO_LOGIN: sim.credentials.login,
      ODOO_API_KEY: sim.credentials.apiKey,
      SYNC_POLL_INTERVAL_MS: "300",
      LOG_LEVEL: "debug",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await until(
    "/readyz 200",
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
    { timeoutMs: 20_000, detail: () => output.slice(-2_000) },
  );
  await until("a few sync passes", () => output.includes("mrp.production"), { timeoutMs: 5_000 });
  const stoppedAt = Date.now();
  child.kill("SIGTERM");
  assert.equal(await exited, 0, output.slice(-2_000));
  assert.ok(Date.now() - stoppedAt < 10_000, "drained within 10 s");
  assert.match(output, /"msg":"stopped"/);
  assert.ok(!output.includes(sim.credentials.apiKey), "the API key is in the logs");
});

// ---------------------------------------------------------------------------------------- end to end

for (const profile of [16, 17, 18, 19] as const) {
  test(`odoo run - Odoo ${profile}: released orders, a confirmed draft and a posted production report, ready and measured`, async (t) => {
    const sim = await startOdoo(t, { profile, db: `e2e${profile}` });
    const { server, nc } = await startStreams(t);
    const connector = await endToEnd(t, sim, server, nc, `odoo${profile}`);
    assert.deepEqual(await deadLetters(nc, "MFG_PRODUCTION", REPORTED_DURABLE), []);
    assert.deepEqual(connector.natsErrors, []);
  });
}

// ---------------------------------------------------------------------------------------- units

test("odoo run - a machine's Dozens are posted in the order's Units; a report with kg rejects is dead-lettered UOM_CATEGORY_MISMATCH naming both units", async (t) => {
  const sim = await startOdoo(t, { profile: 17, db: "units" });
  const { server, nc } = await startStreams(t);
  const connector = await startConnector(t, sim, server, "units");
  const mo = await newOrder(sim, "FIN-SB20", 50);
  const bridge = floorPublisher(nc, "machine-bridge", "units");
  const inDozens = productionReport("units", mo.name, 2);
  await publishProductionReport(bridge, { ...inDozens, goodQuantity: { value: "2", uom: "Dozens" } });
  const inKg = productionReport("units", mo.name, 5);
  const poison = await publishProductionReport(bridge, {
    ...inKg,
    rejectQuantity: { value: "0.4", uom: "kg" },
  });
  const wait = {
    timeoutMs: 15_000,
    detail: () => `NATS errors: ${connector.natsErrors.join("; ") || "none"}`,
  };
  const [letter] = await until(
    "the dead letter",
    async () => {
      const d = await deadLetters(nc, "MFG_PRODUCTION", REPORTED_DURABLE);
      return d.length > 0 && d;
    },
    wait,
  );
  assert.deepEqual([letter?.ceId, letter?.code], [poison, "UOM_CATEGORY_MISMATCH"]);
  assert.match(String(letter?.message), /cannot convert kg \(Weight\) to Units \(Unit\)/);
  await until("2 Dozens in production as 24 Units", async () => (await producedOn(sim, mo.id)) === 24, wait);
});

// ---------------------------------------------------------------------------------------- outage

test("odoo run - an Odoo outage while 20 reports are being posted: after recovery each is applied exactly once, nothing dead-lettered", async (t) => {
  const site = "outage";
  const sim = await startOdoo(t, { profile: 17, db: "outage" });
  const { server, nc } = await startStreams(t);
  const connector = await startConnector(t, sim, server, site, { SYNC_POLL_INTERVAL_MS: "1000" });
  const order = await newOrder(sim, "FIN-SB20", 500);
  const bridge = floorPublisher(nc, "machine-bridge", site);
  const ids: string[] = [];
  let total = 0;
  for (let i = 0; i < 20; i++) {
    const good = (i % 4) + 1;
    total += good;
    ids.push(await publishProductionReport(bridge, productionReport(site, order.name, good)));
  }
  const postedCount = async () =>
    (await storedEvents(nc, POSTED, site)).filter((e) => ids.includes(e.value.sourceEventId)).length;
  await until("a few postings", async () => (await postedCount()) >= 3);
  const outageStarted = Date.now();
  await sim.faults.outage({ mode: "refuse", durationMs: 3_000 });
  const during = await postedCount();
  assert.ok(during < 20, "the outage began while reports were still being posted");
  await until("all 20 ProductionPosted", async () => (await postedCount()) === 20, { timeoutMs: 60_000 });
  t.diagnostic(`all posted ${Date.now() - outageStarted} ms after the outage began`);

  const posted = await postedReports(sim, ids);
  assert.deepEqual(posted.map((o) => o.eventId).sort(), [...ids].sort(), "each report posted exactly once");
  assert.equal(await producedOn(sim, order.id), total, "all of it on the one open order");
  assert.deepEqual(await deadLetters(nc, "MFG_PRODUCTION", REPORTED_DURABLE), []);
  const metrics = await (await fetch(`${connector.service.url}/metrics`)).text();
  const transient = [
    ...metrics.matchAll(/^threadline_odoo_requests_total\{[^}]*outcome="transient"\} (\d+)/gm),
  ];
  assert.ok(
    transient.reduce((n, m) => n + Number(m[1]), 0) > 0,
    "requests failed during the outage (threadline_odoo_requests_total{outcome=transient})",
  );
});

// ---------------------------------------------------------------------------------------- webhook

test("odoo run - with WEBHOOK_TOKEN, Odoo's webhook makes a confirmed order an event long before the next poll", async (t) => {
  const site = "hooked";
  const token = randomBytes(24).toString("hex");
  const { server, nc } = await startStreams(t);
  // Odoo must know the webhook's port before the connector listens on it: a free port is picked,
  // and picked again when another process takes it in between (HTTP_PORT in use).
  let started:
    | { sim: OdooSimulator; connector: Awaited<ReturnType<typeof startConnector>>; port: number }
    | undefined;
  for (let attempt = 1; !started; attempt++) {
    const port = await closedPort();
    const sim = await startOdoo(t, {
      profile: 18,
      db: "hooked",
      webhooks: [
        {
          model: "mrp.production",
          on: "create_or_write",
          url: `http://127.0.0.1:${port}/odoo/webhook/${token}`,
        },
      ],
    });
    try {
      const connector = await startConnector(t, sim, server, site, {
        HTTP_PORT: String(port),
        WEBHOOK_TOKEN: token,
        SYNC_POLL_INTERVAL_MS: "120000", // longer than the sync's longest backoff (60 s)
      });
      started = { sim, connector, port };
    } catch (err) {
      // (startOdoo stops the simulator when the test ends.)
      if (attempt >= 3 || !(err instanceof ConfigError && err.key === "HTTP_PORT")) throw err;
    }
  }
  const { sim, connector, port } = started;
  assert.equal(connector.service.url, `http://127.0.0.1:${port}`);
  const seeded = (await releasedStateOrders(sim)).length;
  await until("the first pass", async () => (await released(nc, site)).length === seeded);

  const order = await newOrder(sim, "FIN-SB20", 12, { draft: true });
  const confirmedAt = Date.now();
  await sim.env.call("mrp.production", "action_confirm", [[order.id]]);
  await until("the confirmed order released", async () => (await released(nc, site)).includes(order.name), {
    timeoutMs: 10_000,
  });
  const elapsed = Date.now() - confirmedAt;
  assert.ok(elapsed < 5_000, `released ${elapsed} ms after the confirmation (poll interval 120 s)`);
  const deliveries = sim.webhookDeliveries();
  assert.ok(deliveries.length >= 2, "the create and the confirmation were delivered");
  assert.deepEqual(
    deliveries.map((d) => d.status),
    deliveries.map(() => 200),
  );
  // The token is the credential: a wrong one is an unknown route.
  const wrong = await fetch(`${connector.service.url}/odoo/webhook/${token.slice(1)}x`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ _action: "Notify(#1)", _id: order.id, _model: "mrp.production" }),
  });
  assert.equal(wrong.status, 404);
});

// ---------------------------------------------------------------------------------------- least privilege

test("odoo run - as its least-privilege NATS user (services/odoo-connector/access.yaml) the service syncs, posts and reports ready without a permission error", async (t) => {
  const auth = leastPrivilege(odooConnectorManifest);
  const server = await startTestServer({ extraConfig: auth.authorization }, t);
  const nc = await connectTo(server, auth.admin, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  const sim = await startOdoo(t, { profile: 19, db: "leastpriv" });
  const connector = await endToEnd(t, sim, server, nc, "leastpriv", {
    NATS_USER: auth.service.user,
    NATS_PASSWORD: auth.service.pass,
    RECONCILE_INTERVAL_MS: "300",
  });
  // A report the connector cannot post is dead-lettered (MFG_DLQ) as that user too.
  const bridge = floorPublisher(nc, "machine-bridge", "leastpriv");
  const poison = await publishProductionReport(bridge, productionReport("leastpriv", "WH/MO/99999", 1));
  const [letter] = await until(
    "the dead letter",
    async () => {
      const d = await deadLetters(nc, "MFG_PRODUCTION", REPORTED_DURABLE);
      return d.length > 0 && d;
    },
    { timeoutMs: 15_000, detail: () => `NATS errors: ${connector.natsErrors.join("; ") || "none"}` },
  );
  assert.deepEqual([letter?.ceId, letter?.code], [poison, "CONNECTOR_ORDER_NOT_FOUND"]);
  // A few more polls, lag refreshes, KV writes and reconciliations as that user.
  await new Promise((r) => setTimeout(r, 1_000));
  const metrics = await (await fetch(`${connector.service.url}/metrics`)).text();
  const completed = Number(
    /^threadline_erp_reconcile_completed_timestamp_seconds (\S+)$/m.exec(metrics)?.[1],
  );
  assert.ok(Date.now() / 1000 - completed < 2, `the periodic reconciliation runs as that user: ${completed}`);
  assert.match(metrics, /^threadline_erp_reconcile_findings\{kind="dead_lettered"\} 1$/m);
  assert.deepEqual(connector.natsErrors, []);
  assert.doesNotMatch(connector.logs.join("\n"), /Permissions Violation|permission/i);
});
