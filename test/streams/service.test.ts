/**
 * runService's start order as an operator sees it: the HTTP port is bound before any work starts,
 * so a port in use fails at once naming HTTP_PORT, and while the service starts its probes answer
 * ("alive, not ready yet").
 */

import assert from "node:assert/strict";
import { createServer } from "node:net";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { ConfigError } from "../../streams/src/errors.js";
import { serviceManifest } from "../../streams/src/manifest.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { runService } from "../../streams/src/service.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { connectTo, startTestServer } from "../harness/nats.js";

function listening(): Promise<{ port: number; close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () =>
      resolve({
        port: (s.address() as { port: number }).port,
        close: () => new Promise((r) => s.close(() => r())),
      }),
    );
  });
}

test("runService - a port in use fails the start before NATS is connected or setup runs, naming HTTP_PORT", async (t) => {
  const taken = await listening();
  t.after(() => taken.close());
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  let setupRan = false;
  const err = await runService({
    name: "port-check",
    env: { NATS_URL: server.clientUrl, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(taken.port) },
    handleSignals: false,
    logDestination: new PassThrough(),
    setup: () => {
      setupRan = true;
      return {};
    },
  }).then(
    () => assert.fail("the service started on a port in use"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.key, "HTTP_PORT");
  assert.match(
    err.message,
    new RegExp(
      `^HTTP_PORT ${taken.port} is in use by another process: cannot listen on 127\\.0\\.0\\.1:${taken.port}`,
    ),
  );
  assert.equal(setupRan, false, "setup ran although the port was taken");
  const connz = (await (await fetch(`${server.monitorUrl}/connz`)).json()) as { num_connections: number };
  assert.equal(connz.num_connections, 1, "only the test's own connection reached NATS");
  await jetstreamManager(nc); // the server is fine: the refusal was the port's
});

test("runService - while setup runs, /healthz answers 200 and /readyz 503 'starting'; ready once started", async (t) => {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  const free = await listening();
  await free.close();
  let release!: () => void;
  const setupGate = new Promise<void>((r) => {
    release = r;
  });
  const starting = runService({
    name: "slow-start",
    env: { NATS_URL: server.clientUrl, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(free.port) },
    handleSignals: false,
    logDestination: new PassThrough(),
    setup: async () => {
      await setupGate;
      return {};
    },
  });
  const base = `http://127.0.0.1:${free.port}`;
  let ready: Response | undefined;
  for (let i = 0; i < 200 && !ready; i++) {
    ready = await fetch(`${base}/readyz`).catch(() => undefined);
    if (!ready) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(ready, "the health server never answered during setup");
  assert.equal(ready.status, 503);
  assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, [
    { name: "start", ok: false, reason: "starting" },
  ]);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  release();
  const service = await starting;
  t.after(() => service.stop());
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
});

test("runService - with a manifest, a route it does not declare refuses the start naming it; declared routes are served", async (t) => {
  const server = await startTestServer({}, t);
  const nc = await connectTo(server, {}, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  const manifest = serviceManifest({
    service: "route-check",
    description: "a service with one webhook",
    http: [{ method: "POST", path: "/hooks/:token", auth: "path-token", description: "a webhook" }],
  });
  const free = await listening();
  await free.close();
  const env = { NATS_URL: server.clientUrl, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(free.port) };
  const err = await runService({
    manifest,
    env,
    handleSignals: false,
    logDestination: new PassThrough(),
    routes: (app) => {
      app.post("/hooks/:token", async () => ({ ok: true }));
      app.get("/debug/state", async () => ({}));
    },
    setup: () => ({}),
  }).then(
    () => assert.fail("a service with an undeclared route started"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  assert.equal(err.key, "routes");
  assert.match(err.message, /GET \/debug\/state is not declared in route-check's manifest \(http\)/);

  const service = await runService({
    manifest,
    env,
    handleSignals: false,
    logDestination: new PassThrough(),
    routes: (app) => {
      app.post("/hooks/:token", async () => ({ ok: true }));
    },
    setup: () => ({}),
  });
  t.after(() => service.stop());
  assert.equal(service.context.name, "route-check", "the name comes from the manifest");
  const answer = await fetch(`${service.url}/hooks/abc`, { method: "POST" });
  assert.equal(answer.status, 200);
});
