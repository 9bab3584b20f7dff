import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Registry } from "prom-client";
import { createHealthServer } from "../../streams/src/http.js";
import { metricsFor } from "../../streams/src/metrics.js";

describe("service HTTP - health, readiness and metrics", () => {
  test("/healthz answers while the process runs; /readyz is 503 naming the check that fails", async () => {
    let connected = true;
    const app = createHealthServer({
      registry: new Registry(),
      checks: [
        { name: "nats", check: () => (connected ? { ok: true } : { ok: false, reason: "disconnected" }) },
      ],
    });
    assert.equal((await app.inject({ url: "/healthz" })).statusCode, 200);
    assert.equal((await app.inject({ url: "/readyz" })).statusCode, 200);
    connected = false;
    const r = await app.inject({ url: "/readyz" });
    assert.equal(r.statusCode, 503);
    assert.deepEqual(r.json().checks, [{ name: "nats", ok: false, reason: "disconnected" }]);
  });

  test("/metrics serves the documented Threadline metrics in Prometheus text format", async () => {
    const registry = new Registry();
    metricsFor(registry).published.inc({
      event_type: "mfg.test.x.v1",
      stream: "MFG_TEST",
      duplicate: "false",
    });
    const app = createHealthServer({ registry });
    const r = await app.inject({ url: "/metrics" });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers["content-type"] as string, /^text\/plain/);
    assert.match(
      r.body,
      /threadline_events_published_total\{event_type="mfg.test.x.v1",stream="MFG_TEST",duplicate="false"\} 1/,
    );
    for (const name of [
      "threadline_consumer_in_flight",
      "threadline_dead_lettered_total",
      "threadline_consumer_pending",
    ]) {
      assert.match(r.body, new RegExp(`# TYPE ${name} `));
    }
  });

  test("with a metrics token, /metrics refuses a request without the right bearer token", async () => {
    const app = createHealthServer({ registry: new Registry(), metricsToken: "s3cret-token-0123456789" });
    assert.equal((await app.inject({ url: "/metrics" })).statusCode, 401);
    assert.equal(
      (await app.inject({ url: "/metrics", headers: { authorization: "Bearer wrong" } })).statusCode,
      401,
    );
    const ok = await app.inject({
      url: "/metrics",
      headers: { authorization: "Bearer s3cret-token-0123456789" },
    });
    assert.equal(ok.statusCode, 200);
    assert.equal((await app.inject({ url: "/healthz" })).statusCode, 200);
  });
});
