/**
 * The orchestrator on two replicas, active/standby (runService's `activeStandby`): the replica holding
 * `lease.production-orchestrator.<site>` consumes, sweeps and is ready; the other holds nothing and
 * answers `/readyz` 503 "standby". The active one runs as its own process and is killed (SIGKILL: no
 * release, the standby waits out the ttl) or paused (SIGSTOP: once resumed it finds itself deposed,
 * what it had received is refused by its writes' owner check and goes back to the new active). Each order is dispatched once whoever was active, and an order released while
 * nobody was is dispatched after the take-over.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { EventCodec } from "../../contracts/src/index.js";
import { startService } from "../../services/production-orchestrator/src/main.js";
import { ORDERS_BUCKET } from "../../services/production-orchestrator/src/manifest.js";
import { applyPlan, EventPublisher, planChanges, serverFacts } from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import { fakeBridge, line1, release, SITE, stepsOf } from "./fixtures.js";

const TTL_MS = 3_000;
/** A take-over within the ttl after the active's last renewal, plus a renewal period and slack. */
const TAKEOVER_BOUND_MS = TTL_MS + TTL_MS / 3 + 1_500;

async function readiness(url: string): Promise<{ status: number; reason: string }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, reason: await res.text() };
}

/** The active replica as a process of its own, so that it can be killed or paused. */
function childReplica(t: import("node:test").TestContext, env: Record<string, string>) {
  let output = "";
  const child: ChildProcess = spawn(
    process.execPath,
    [path.resolve("dist/services/production-orchestrator/src/main.js")],
    { env: { ...process.env, ...env, LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  t.after(() => {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  });
  const url = () =>
    until("the child's health server", () => /"url":"(http:[^"]+)"/.exec(output)?.[1], {
      timeoutMs: 20_000,
      detail: () => output,
    });
  return { child, url, output: () => output };
}

async function setUp(t: import("node:test").TestContext) {
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
    DISPATCH_MACHINES: JSON.stringify({ line1: ["filler1"], line2: ["filler2"], line3: ["filler3"] }),
    SWEEP_INTERVAL_MS: "200",
    LEASE_TTL_MS: String(TTL_MS),
    // No dispatch is sent again within the test: each one the bridge sees comes from an order's event.
    DISPATCH_RETRY_MS: "600000",
    COMMAND_TIMEOUT_MS: "2000",
  };
  const kv = await new Kvm(nc).open(ORDERS_BUCKET);
  const holder = async () => {
    const e = await kv.get(`lease.production-orchestrator.${SITE}`);
    return e?.operation === "PUT" ? (e.json() as { holder: string }).holder.split(":")[0] : undefined;
  };
  const publisher = new EventPublisher(jetstream(nc), new EventCodec(), { service: "test", site: SITE });
  const releaseOn = (ref: string, line: string) =>
    publisher.publish(
      "mfg.production.production_order_released.v1",
      release(ref, { equipment: { ...line1, line }, lotToProduce: null }),
      { site: SITE, line, key: ref },
    );
  const dispatched = () =>
    bridge.received.map((r) => [r.machine, (r.request.body as { order: string }).order]);
  return { nc, env, holder, releaseOn, dispatched, bridge };
}

test("production orchestrator - two replicas: one active and ready, the standby 503 'standby'; the active killed, the standby takes over within the ttl and dispatches what was released meanwhile, each order once", async (t) => {
  const { nc, env, holder, releaseOn, dispatched } = await setUp(t);
  const a = childReplica(t, { ...env, HOSTNAME: "orchestrator-a" });
  const aUrl = await a.url();
  await until("a active", async () => ((await readiness(aUrl)).status === 200 ? true : undefined), {
    detail: () => a.output(),
  });
  const b = await startService({ ...env, HOSTNAME: "orchestrator-b" });
  t.after(() => b.stop());

  // Exactly one ready: Kubernetes routes to the active one only.
  const standby = await readiness(b.url);
  assert.equal(standby.status, 503);
  assert.match(standby.reason, /standby/);
  assert.equal((await readiness(aUrl)).status, 200);
  assert.equal(await holder(), "orchestrator-a");
  assert.deepEqual(b.consumers, [], "a standby consumes nothing");

  await releaseOn("WH/MO/00201", "line1");
  await until("the first order dispatched", () => (dispatched().length === 1 ? true : undefined));
  // …and its dispatch recorded: killed between the machine's answer and the record, the order would
  // wait in DISPATCHING for its retry (DISPATCH_RETRY_MS, out of this test's reach).
  await until("the first dispatch recorded", async () =>
    (await stepsOf(nc, "WH/MO/00201")).some((s) => s.step === "DISPATCHED") ? true : undefined,
  );

  // Killed: no release, no goodbye. An order is released while nobody is active.
  const killedAt = performance.now();
  a.child.kill("SIGKILL");
  // Once the server has seen it go (its pulls dropped; the standby pulls nothing): what was handed
  // to the dead process just before would come back after the durable's ack wait, not the ttl.
  const jsm = await jetstreamManager(nc);
  await until("no pull left on the orders durable", async () =>
    (await jsm.consumers.info("MFG_PRODUCTION", "production-orchestrator-orders")).num_waiting === 0
      ? true
      : undefined,
  );
  await releaseOn("WH/MO/00202", "line2");
  await until("b active", async () => ((await readiness(b.url)).status === 200 ? true : undefined), {
    timeoutMs: TAKEOVER_BOUND_MS,
  });
  const takeoverMs = performance.now() - killedAt;
  const t0 = performance.now();
  t.diagnostic(`take-over after SIGKILL: ${Math.round(takeoverMs)} ms (ttl ${TTL_MS} ms)`);
  assert.equal(await holder(), "orchestrator-b");
  assert.ok(b.consumers.length > 0, "the new active consumes");

  await until("the second order dispatched", () => (dispatched().length === 2 ? true : undefined), {
    timeoutMs: 5_000,
  });
  t.diagnostic(
    `order released meanwhile dispatched ${Math.round(performance.now() - t0)} ms after the take-over`,
  );
  await releaseOn("WH/MO/00203", "line3");
  await until("the third order dispatched", () => (dispatched().length === 3 ? true : undefined));
  // A few sweeps later: nothing sent twice, nothing missed, every order through the same steps.
  await new Promise((r) => setTimeout(r, 1_000));
  assert.deepEqual(dispatched(), [
    ["filler1", "WH/MO/00201"],
    ["filler2", "WH/MO/00202"],
    ["filler3", "WH/MO/00203"],
  ]);
  for (const ref of ["WH/MO/00201", "WH/MO/00202", "WH/MO/00203"])
    assert.deepEqual(
      (await stepsOf(nc, ref)).map((s) => s.step),
      ["RELEASED", "MATERIAL_CHECK", "DISPATCHING", "DISPATCHED"],
      ref,
    );
});

test("production orchestrator - the active paused (SIGSTOP) is deposed: the standby takes over within the ttl, and the old one, resumed, turns standby and dispatches nothing", async (t) => {
  const { nc, env, holder, releaseOn, dispatched } = await setUp(t);
  const a = childReplica(t, { ...env, HOSTNAME: "orchestrator-a" });
  const aUrl = await a.url();
  await until("a active", async () => ((await readiness(aUrl)).status === 200 ? true : undefined), {
    detail: () => a.output(),
  });
  const b = await startService({ ...env, HOSTNAME: "orchestrator-b" });
  t.after(() => b.stop());
  assert.equal((await readiness(b.url)).status, 503);

  const pausedAt = performance.now();
  a.child.kill("SIGSTOP");
  await releaseOn("WH/MO/00301", "line1");
  await until("b active", async () => ((await readiness(b.url)).status === 200 ? true : undefined), {
    timeoutMs: TAKEOVER_BOUND_MS,
  });
  t.diagnostic(`take-over after SIGSTOP: ${Math.round(performance.now() - pausedAt)} ms (ttl ${TTL_MS} ms)`);
  assert.equal(await holder(), "orchestrator-b");

  // Resumed: it learns it was deposed (its lease is stale: no write of it would be accepted) and
  // stops its consumers. What the server had handed it while paused arrives after they stopped and is
  // not given back: it comes to the new active after the durable's ack wait (30 s), not the ttl.
  const resumedAt = performance.now();
  a.child.kill("SIGCONT");
  await until("the order dispatched", () => (dispatched().length === 1 ? true : undefined), {
    timeoutMs: 40_000,
  });
  t.diagnostic(
    `order released while paused dispatched ${Math.round(performance.now() - resumedAt)} ms after the resume`,
  );
  const aAgain = await until(
    "a standby again",
    async () => {
      const r = await readiness(aUrl);
      return r.status === 503 ? r : undefined;
    },
    { detail: () => a.output() },
  );
  assert.match(aAgain.reason, /standby/);
  assert.equal((await readiness(b.url)).status, 200);
  await releaseOn("WH/MO/00302", "line2");
  await until("the second order dispatched", () => (dispatched().length === 2 ? true : undefined));
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal(await holder(), "orchestrator-b");
  assert.deepEqual(dispatched(), [
    ["filler1", "WH/MO/00301"],
    ["filler2", "WH/MO/00302"],
  ]);
  for (const ref of ["WH/MO/00301", "WH/MO/00302"])
    assert.deepEqual(
      (await stepsOf(nc, ref)).map((s) => s.step),
      ["RELEASED", "MATERIAL_CHECK", "DISPATCHING", "DISPATCHED"],
      ref,
    );
});
