/**
 * Odoo's webhooks as triggers of the inbound sync (never as data), the sync's scheduling when one
 * model keeps failing, and the options' validation.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import Fastify from "fastify";
import { Registry } from "prom-client";
import {
  InboundSync,
  type InboundSyncOptions,
  registerOdooWebhook,
} from "../../services/odoo-connector/src/inbound/index.js";
import { ConfigError } from "../../streams/src/errors.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import { until } from "../harness/wait.js";
import {
  connectOdoo,
  connectorPublisher,
  connectorStateKv,
  startOdoo,
  startStreams,
  storedEvents,
} from "./fixture.js";

const { nc } = await startStreams();

const RELEASED = "mfg.production.production_order_released.v1";
const CHANGED = "mfg.production.production_order_changed.v1";
const LOT = "mfg.inventory.lot_registered.v1";

async function syncFor(
  t: Parameters<typeof startOdoo>[0],
  sim: OdooSimulator,
  site: string,
  options: Partial<InboundSyncOptions> = {},
  client?: Awaited<ReturnType<typeof connectOdoo>>,
): Promise<InboundSync> {
  const sync = new InboundSync({
    client: client ?? (await connectOdoo(t, sim, { ratePerSecond: 1000 })),
    publisher: connectorPublisher(nc, site),
    js: jetstream(nc),
    kv: await connectorStateKv(nc),
    db: sim.db,
    site,
    registry: new Registry(),
    ...options,
  });
  t.after(() => sync.stop());
  return sync;
}

const passesOf = (sync: InboundSync, model: string) =>
  sync.status().find((s) => s.model === model)?.passes ?? 0;

test("inbound webhook - Odoo's webhook makes the sync read the change at once, long before the next poll", async (t) => {
  const token = randomBytes(24).toString("hex");
  const target: { sync?: InboundSync } = {};
  const app = Fastify();
  registerOdooWebhook(app, { token, sync: { trigger: (model) => target.sync?.trigger(model) ?? [] } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  t.after(() => app.close());
  const { port } = app.server.address() as AddressInfo;

  const sim = await startOdoo(t, {
    profile: 19,
    db: "hooked",
    webhooks: [
      {
        model: "mrp.production",
        on: "create_or_write",
        url: `http://127.0.0.1:${port}/odoo/webhook/${token}`,
      },
    ],
  });
  const sync = await syncFor(t, sim, "hooked", { pollIntervalMs: 60_000, maxBackoffMs: 60_000 });
  target.sync = sync;
  sync.start();
  await until("the first pass of every model", () => sync.status().every((s) => s.passes >= 1 && !s.running));

  const [order] = await sim.env.search("mrp.production", [["state", "=", "confirmed"]], { limit: 1 });
  assert.ok(order);
  const started = Date.now();
  await sim.env.write("mrp.production", [order], { product_qty: 42 });
  const [change] = await until("the change published", async () => {
    const events = await storedEvents(nc, CHANGED, "hooked");
    return events.length > 0 && events;
  });
  const elapsed = Date.now() - started;
  assert.equal(change?.value.quantity?.value, "42.000000");
  assert.ok(elapsed < 5_000, `published ${elapsed} ms after the write (the poll interval is 60 s)`);
  assert.deepEqual(
    sim.webhookDeliveries().map((d) => [d.status, d.error]),
    [[200, undefined]],
  );
});

test("inbound webhook - a wrong token gets the 404 of an unknown route, a malformed body a 400 naming what is wrong", async (t) => {
  const token = randomBytes(24).toString("hex");
  const triggered: string[] = [];
  const app = Fastify();
  registerOdooWebhook(app, {
    token,
    sync: {
      trigger: (model) => {
        triggered.push(model);
        return [model];
      },
    },
  });
  t.after(() => app.close());
  const post = (path: string, payload: unknown) =>
    app.inject({
      method: "POST",
      url: path,
      payload: payload as object,
      headers: { "content-type": "application/json" },
    });
  const body = { _action: "Notify(#700)", _id: 3, _model: "mrp.production" };

  // The same answer as a route that does not exist; the body of a refused request is not even parsed.
  const wrong = await post(`/odoo/webhook/${token.slice(1)}x`, body);
  const unknown = await post("/odoo/nothing-here", body);
  assert.equal(wrong.statusCode, 404);
  assert.deepEqual(
    { ...(wrong.json() as object), message: undefined },
    { ...(unknown.json() as object), message: undefined },
  );
  assert.doesNotMatch(wrong.body, /token/i);
  assert.equal((await post(`/odoo/webhook/${token.slice(1)}x`, "not json")).statusCode, 404);
  assert.equal((await post(`/odoo/webhook/${token}x`, body)).statusCode, 404);
  assert.deepEqual(triggered, []);

  const bad = await post(`/odoo/webhook/${token}`, { _model: "MRP production", _id: "3" });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().detail, /_model: must be an Odoo model name/);
  assert.match(bad.json().detail, /_id: /);
  assert.equal((await post(`/odoo/webhook/${token}`, [1, 2])).statusCode, 400);
  assert.deepEqual(triggered, []);

  const ok = await post(`/odoo/webhook/${token}`, body);
  assert.equal(ok.statusCode, 200);
  assert.deepEqual(ok.json(), { status: "accepted", resync: ["mrp.production"] });
  assert.deepEqual(triggered, ["mrp.production"]);

  assert.throws(
    () => registerOdooWebhook(Fastify(), { token: "short", sync: { trigger: () => [] } }),
    (err: unknown) => err instanceof ConfigError && err.key === "WEBHOOK_TOKEN",
  );
});

test("inbound webhook - a forged webhook about a record that is not in Odoo publishes nothing: the payload is never data", async (t) => {
  const sim = await startOdoo(t, { profile: 18, db: "forged" });
  const sync = await syncFor(t, sim, "forged", { pollIntervalMs: 60_000, maxBackoffMs: 60_000 });
  const token = randomBytes(24).toString("hex");
  const app = Fastify();
  registerOdooWebhook(app, { token, sync });
  t.after(() => app.close());
  sync.start();
  await until("the first pass of every model", () => sync.status().every((s) => s.passes >= 1 && !s.running));
  const before = (await storedEvents(nc, RELEASED, "forged")).length;
  const passes = passesOf(sync, "mrp.production");

  const res = await app.inject({
    method: "POST",
    url: `/odoo/webhook/${token}`,
    payload: {
      _action: "Notify(#700)",
      _id: 99_999,
      _model: "mrp.production",
      name: "WH/MO/FORGED",
      state: "confirmed",
      product_qty: 1000,
    },
  });
  assert.equal(res.statusCode, 200);
  await until("the pass the webhook triggered", () => passesOf(sync, "mrp.production") > passes);
  const released = await storedEvents(nc, RELEASED, "forged");
  assert.equal(released.length, before);
  assert.ok(!released.some((e) => e.value.orderRef === "WH/MO/FORGED" || e.value.odooOrderId === 99_999n));
  assert.equal((await storedEvents(nc, CHANGED, "forged")).length, 0);
});

test("inbound sync - a model whose reads keep failing backs off and recovers, without holding up the other models", async (t) => {
  const sim = await startOdoo(t, { profile: 18, db: "faulty" });
  const client = await connectOdoo(t, sim, {
    ratePerSecond: 1000,
    retry: { attempts: 1 },
    breaker: { failureThreshold: 1_000 },
  });
  sim.faults.add({ kind: "http_error", status: 503, model: "stock.lot", method: "search_read" });
  const sync = await syncFor(t, sim, "faulty", { pollIntervalMs: 100, maxBackoffMs: 400 }, client);
  sync.start();

  const lotStatus = () => sync.status().find((s) => s.model === "stock.lot");
  await until("lots failing twice", () => (lotStatus()?.failures ?? 0) >= 2);
  assert.match(lotStatus()?.lastError ?? "", /503/);
  await until(
    "orders released meanwhile",
    async () => (await storedEvents(nc, RELEASED, "faulty")).length === 7,
  );
  assert.equal((await storedEvents(nc, LOT, "faulty")).length, 0);

  await sim.faults.clear();
  await until(
    "lots registered once Odoo answers again",
    async () => (await storedEvents(nc, LOT, "faulty")).length === 7,
    {
      timeoutMs: 5_000,
    },
  );
  assert.equal(lotStatus()?.failures, 0);
  assert.equal(lotStatus()?.lastError, undefined);
});

test("inbound sync - invalid options are refused with an error naming the option", () => {
  const base = {
    client: {} as InboundSyncOptions["client"],
    publisher: {} as InboundSyncOptions["publisher"],
    js: {} as InboundSyncOptions["js"],
    kv: {} as InboundSyncOptions["kv"],
    db: "db",
    site: "site",
  };
  const keyOf = (o: Partial<InboundSyncOptions>) => {
    try {
      new InboundSync({ ...base, ...o });
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.key;
    }
    return undefined;
  };
  assert.equal(keyOf({ pollIntervalMs: 0 }), "pollIntervalMs");
  assert.equal(keyOf({ pageSize: 1.5 }), "pageSize");
  assert.equal(keyOf({ site: "" }), "site");
  assert.equal(keyOf({ models: ["res.users"] }), "models");
  assert.equal(keyOf({ pollIntervalMs: 10_000, maxBackoffMs: 5_000 }), "maxBackoffMs");
  assert.equal(keyOf({ lineByWorkcenter: { CNC: "" } }), "lineByWorkcenter.CNC");
  assert.equal(keyOf({}), undefined);
});
