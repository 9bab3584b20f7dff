/**
 * The orchestrator's sweep (budgets, line stops, dispatches sent again) is periodic work with one
 * owner: two copies started in this process (told apart by HOSTNAME) sweep from the one holding the
 * lease; that one stopped, the other takes the sweep over. Each order is dispatched once and is overdue
 * once, whichever copy applied its events and whichever swept.
 *
 * The copy holding the lease is the active one (runService's activeStandby): the other consumes
 * nothing either; standby.test.ts kills and pauses the active one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { EventCodec } from "../../contracts/src/index.js";
import { startService } from "../../services/production-orchestrator/src/main.js";
import { ORDERS_BUCKET } from "../../services/production-orchestrator/src/manifest.js";
import { applyPlan, EventPublisher, planChanges, serverFacts } from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { storedEvents } from "../harness/events.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import { fakeBridge, line1, release, SITE, stepsOf } from "./fixtures.js";

test("production orchestrator - two copies: the sweep runs where its lease is, moves to the other when that one stops; each order dispatched once, overdue once", async (t) => {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  const bridge = fakeBridge(nc, "no-machine-refuses");
  t.after(() => bridge.stop());
  const env = {
    NATS_URL: server.clientUrl,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
    SITE,
    DISPATCH_MACHINES: JSON.stringify({ line1: ["filler1"], line2: ["filler2"] }),
    STEP_BUDGETS: JSON.stringify({ default: { DISPATCHED: "1s" } }),
    SWEEP_INTERVAL_MS: "100",
    LEASE_TTL_MS: "1500",
    // No dispatch is sent again within the test: each one the bridge sees comes from an order's event.
    DISPATCH_RETRY_MS: "600000",
    COMMAND_TIMEOUT_MS: "2000",
  };
  const kv = await new Kvm(nc).open(ORDERS_BUCKET);
  const sweeper = async () => {
    const e = await kv.get(`lease.production-orchestrator.${SITE}`);
    return e?.operation === "PUT" ? (e.json() as { holder: string }).holder.split(":")[0] : undefined;
  };
  const a = await startService({ ...env, HOSTNAME: "orchestrator-a" });
  t.after(() => a.stop());
  await until("a sweeper", async () => ((await sweeper()) === "orchestrator-a" ? true : undefined));
  const b = await startService({ ...env, HOSTNAME: "orchestrator-b" });
  t.after(() => b.stop());

  const publisher = new EventPublisher(jetstream(nc), new EventCodec(), { service: "test", site: SITE });
  const overdue = async () =>
    (await storedEvents(nc, "mfg.production.order_step_overdue.v1", SITE)).map((o) => [
      o.value.orderRef,
      o.value.step,
    ]);
  const first = "WH/MO/00101";
  await publisher.publish("mfg.production.production_order_released.v1", release(first), {
    site: SITE,
    line: "line1",
    key: first,
  });
  await until("the first order overdue", async () => ((await overdue()).length === 1 ? true : undefined));
  assert.equal(await sweeper(), "orchestrator-a", "one sweeper while both run");

  // The sweeper stops: the other copy takes the sweep over (the lease is released on stop).
  await a.stop();
  const second = "WH/MO/00102";
  await publisher.publish(
    "mfg.production.production_order_released.v1",
    release(second, { equipment: { ...line1, line: "line2" } }),
    { site: SITE, line: "line2", key: second },
  );
  await until("the second order overdue", async () => ((await overdue()).length === 2 ? true : undefined), {
    timeoutMs: 15_000,
  });
  assert.equal(await sweeper(), "orchestrator-b");
  // A few more sweeps: nothing is published twice.
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(await overdue(), [
    [first, "DISPATCHED"],
    [second, "DISPATCHED"],
  ]);
  assert.deepEqual(
    bridge.received.map((r) => [r.machine, (r.request.body as { order: string }).order]),
    [
      ["filler1", first],
      ["filler2", second],
    ],
  );
  const steps = async (ref: string) => (await stepsOf(nc, ref)).map((s) => s.step);
  for (const ref of [first, second])
    assert.deepEqual(await steps(ref), ["RELEASED", "MATERIAL_CHECK", "DISPATCHING", "DISPATCHED"], ref);
});
