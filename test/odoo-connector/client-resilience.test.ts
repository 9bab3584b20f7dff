import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";
import { Registry } from "prom-client";
import {
  type BreakerState,
  OdooClient,
  type OdooClientOptions,
  OdooError,
} from "../../services/odoo-connector/src/odoo/index.js";
import { BreakerGate } from "../../services/odoo-connector/src/outbound/gate.js";
import { RetryableError } from "../../streams/src/consumer.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";

const FAST_RETRY = { attempts: 4, initialDelayMs: 20, maxDelayMs: 100, jitter: 0 };

function optionsFor(sim: OdooSimulator, overrides: Partial<OdooClientOptions> = {}): OdooClientOptions {
  return {
    url: sim.url,
    db: sim.db,
    login: sim.credentials.login,
    apiKey: sim.credentials.apiKey,
    timeoutMs: 2000,
    retry: FAST_RETRY,
    registry: new Registry(),
    ...overrides,
  };
}

async function odooError(promise: Promise<unknown>): Promise<OdooError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OdooError, `expected an OdooError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded");
}

/** The value of a metric (summed over the series matching `labels`). */
async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `metric ${name} is registered`);
  const { values } = await m.get();
  return values
    .filter((v) => !String((v as { metricName?: string }).metricName ?? name).endsWith("_bucket"))
    .filter((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

/** Sim calls of one model method (faults injected included). */
const callsOf = (sim: OdooSimulator, model: string, method: string) =>
  sim.calls().filter((c) => c.model === model && c.method === method);

/** Resolves once the breaker is in `wanted` (at once if it already is); fails after 5 s. */
function nextState(odoo: OdooClient, wanted: BreakerState): Promise<void> {
  if (odoo.breaker.state === wanted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the breaker did not become ${wanted}`));
    }, 5000);
    const stop = odoo.breaker.onChange((state) => {
      if (state === wanted) {
        clearTimeout(timer);
        stop();
        resolve();
      }
    });
  });
}

/**
 * An HTTP proxy in front of the simulator that sees what the client really sends: requests in
 * flight, when each one started, and it can answer 429 itself.
 */
async function startProxy(target: string) {
  const state = { inFlight: 0, maxInFlight: 0, starts: [] as number[], tooManyRequests: 0 };
  const forward = (h: IncomingHttpHeaders) =>
    Object.fromEntries(
      ["content-type", "authorization", "x-odoo-database"]
        .filter((k) => typeof h[k] === "string")
        .map((k) => [k, h[k] as string]),
    );
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (state.tooManyRequests > 0) {
      state.tooManyRequests--;
      res.writeHead(429, { "Content-Type": "text/html", "Retry-After": "1" });
      res.end("<html><head><title>429 Too Many Requests</title></head></html>");
      return;
    }
    state.starts.push(performance.now());
    state.maxInFlight = Math.max(state.maxInFlight, ++state.inFlight);
    try {
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method ?? "GET",
        headers: forward(req.headers),
        ...(req.method === "POST" ? { body: Buffer.concat(chunks) } : {}),
      });
      const body = Buffer.from(await answer.arrayBuffer());
      res.writeHead(answer.status, { "Content-Type": answer.headers.get("content-type") ?? "text/plain" });
      res.end(body);
    } catch {
      res.writeHead(502, { "Content-Type": "text/html" });
      res.end("<html><head><title>502 Bad Gateway</title></head></html>");
    } finally {
      state.inFlight--;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    reset() {
      state.maxInFlight = 0;
      state.starts = [];
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const profile of [16, 19] as const) {
  describe(`odoo client - retries on Odoo ${profile} (${profile >= 19 ? "JSON-2" : "JSON-RPC"})`, () => {
    let sim: OdooSimulator;
    let registry: Registry;
    let odoo: OdooClient;
    let partner: number;

    before(async () => {
      sim = await startOdooSimulator({ profile });
      registry = new Registry();
      odoo = await OdooClient.connect(optionsFor(sim, { registry, timeoutMs: 400 }));
      partner = await odoo.create("res.partner", { name: "Retry target" });
    });
    after(async () => {
      await odoo.close();
      await sim.stop();
    });

    test("a serialization failure on a write is retried, and the write is applied once", async () => {
      sim.faults.add({ kind: "serialization_failure", model: "res.partner", method: "write", times: 2 });
      const before = callsOf(sim, "res.partner", "write").length;
      assert.equal(await odoo.write("res.partner", [partner], { ref: "after-conflict" }), true);
      const writes = callsOf(sim, "res.partner", "write").slice(before);
      assert.deepEqual(
        writes.map((c) => c.error ?? "ok"),
        ["fault:serialization_failure", "fault:serialization_failure", "ok"],
      );
      assert.equal(
        await metric(registry, "threadline_odoo_retries_total", { reason: "serialization_failure" }),
        2,
      );
      const [row] = await odoo.read<{ ref: string }>("res.partner", [partner], ["ref"]);
      assert.equal(row?.ref, "after-conflict");
    });

    test("an HTML 502 from a proxy is retried, for a create too, and creates one record", async () => {
      sim.faults.add({ kind: "http_error", status: 502, model: "res.partner", method: "create", times: 2 });
      const id = await odoo.create("res.partner", { name: "Behind a flaky proxy" });
      assert.deepEqual(await odoo.search("res.partner", [["name", "=", "Behind a flaky proxy"]]), [id]);
      assert.equal(await metric(registry, "threadline_odoo_retries_total", { reason: "http_502" }), 2);
      assert.equal(
        await metric(registry, "threadline_odoo_requests_total", {
          model: "res.partner",
          method: "create",
          outcome: "transient",
        }),
        2,
      );
    });

    test("a timeout on a write is ambiguous and not retried", async () => {
      sim.faults.add({ kind: "timeout", model: "res.partner", method: "write", times: 1 });
      const before = callsOf(sim, "res.partner", "write").length;
      const err = await odooError(odoo.write("res.partner", [partner], { ref: "maybe" }));
      assert.equal(err.odooName, "timeout");
      assert.equal(err.kind, "transient");
      assert.equal(err.ambiguous, true);
      assert.match(err.message, /may have been applied/);
      assert.equal(callsOf(sim, "res.partner", "write").length, before + 1);
    });

    test("a 504 on a create is ambiguous and not retried", async () => {
      sim.faults.add({ kind: "http_error", status: 504, model: "res.partner", method: "create", times: 1 });
      const before = callsOf(sim, "res.partner", "create").length;
      const err = await odooError(odoo.create("res.partner", { name: "Maybe created" }));
      assert.equal(err.odooName, "http.504");
      assert.equal(err.httpStatus, 504);
      assert.equal(err.ambiguous, true);
      assert.equal(callsOf(sim, "res.partner", "create").length, before + 1);
    });

    test("a timeout on a read is retried, and so is a write the caller marks idempotent", async () => {
      sim.faults.add({ kind: "timeout", model: "res.partner", method: "search_read", times: 1 });
      const rows = await odoo.searchRead("res.partner", [["id", "=", partner]], { fields: ["name"] });
      assert.equal(rows.length, 1);
      sim.faults.add({ kind: "timeout", model: "res.partner", method: "write", times: 1 });
      assert.equal(await odoo.write("res.partner", [partner], { ref: "same" }, { idempotent: true }), true);
      assert.equal(await metric(registry, "threadline_odoo_retries_total", { reason: "timeout" }), 2);
    });

    test("an expired session is re-authenticated once and the call goes through", async () => {
      sim.faults.add({ kind: "session_expired", model: "res.partner", method: "write", times: 1 });
      assert.equal(await odoo.write("res.partner", [partner], { ref: "after-expiry" }), true);
      const auth = sim
        .calls()
        .filter((c) => c.method === (profile >= 19 ? "context_get" : "login"))
        .at(-1);
      assert.equal(auth?.ok, true);
      assert.equal(odoo.uid, sim.credentials.uid);
    });

    test("a deactivated user is an auth error, never retried", async () => {
      const shopRegistry = new Registry();
      const shop = await OdooClient.connect(
        optionsFor(sim, {
          login: sim.restricted.login,
          apiKey: sim.restricted.apiKey,
          registry: shopRegistry,
        }),
      );
      await sim.env.write("res.users", [sim.restricted.uid], { active: false });
      try {
        const err = await odooError(shop.searchCount("res.partner", []));
        assert.equal(err.kind, "auth");
        assert.equal(
          err.odooName,
          profile >= 19 ? "werkzeug.exceptions.Unauthorized" : "odoo.exceptions.AccessDenied",
        );
        assert.match(err.message, /check the login and API key/);
        assert.equal(await metric(shopRegistry, "threadline_odoo_requests_total"), 1);
        assert.equal(await metric(shopRegistry, "threadline_odoo_retries_total"), 0);
      } finally {
        await sim.env.write("res.users", [sim.restricted.uid], { active: true });
        await shop.close();
      }
    });
  });
}

describe("odoo client - limits, circuit breaker and shutdown", () => {
  let sim: OdooSimulator;

  before(async () => {
    sim = await startOdooSimulator({ profile: 17 });
  });
  after(() => sim.stop());

  test("a create is retried while the server refuses connections, then applied once", async () => {
    const odoo = await OdooClient.connect(
      optionsFor(sim, { retry: { attempts: 8, initialDelayMs: 50, maxDelayMs: 200, jitter: 0 } }),
    );
    try {
      await sim.faults.outage({ mode: "refuse", durationMs: 300 });
      // Let the client see its idle keep-alive connections closed: a write sent on a connection
      // at the very moment the server closes it fails with a reset, which is ambiguous (not retried).
      await new Promise((r) => setTimeout(r, 50));
      const id = await odoo.create("res.partner", { name: "After the outage" });
      assert.deepEqual(await odoo.search("res.partner", [["name", "=", "After the outage"]]), [id]);
    } finally {
      await sim.faults.endOutage();
      await odoo.close();
    }
  });

  test("a write made with retry: false goes back to its caller at the first 503 (its value was computed from a read that may be stale by the next try)", async () => {
    const registry = new Registry();
    const odoo = await OdooClient.connect(optionsFor(sim, { registry }));
    const id = await odoo.create("res.partner", { name: "Quantity holder" });
    try {
      await sim.faults.outage({ mode: "503" });
      const err = await odooError(odoo.write("res.partner", [id], { name: "stale" }, { retry: false }));
      assert.equal(err.odooName, "http.503");
      assert.equal(await metric(registry, "threadline_odoo_retries_total"), 0, "not sent again");
      // The same write without the option is retried (the 503 proves it was not applied).
      await odooError(odoo.write("res.partner", [id], { name: "stale" }));
      assert.equal(await metric(registry, "threadline_odoo_retries_total"), FAST_RETRY.attempts - 1);
      await sim.faults.endOutage();
      const [row] = await odoo.read("res.partner", [id], ["name"]);
      assert.equal(row?.["name"], "Quantity holder");
    } finally {
      await sim.faults.endOutage();
      await odoo.close();
    }
  });

  test("requests in flight never exceed the concurrency", async () => {
    const proxy = await startProxy(sim.url);
    const registry = new Registry();
    const odoo = await OdooClient.connect({
      ...optionsFor(sim, { registry, concurrency: 3, ratePerSecond: 1000 }),
      url: proxy.url,
    });
    proxy.reset();
    const rule = sim.faults.add({
      kind: "latency",
      latencyMs: 60,
      model: "res.partner",
      method: "search_count",
    });
    try {
      const counts = await Promise.all(Array.from({ length: 12 }, () => odoo.searchCount("res.partner", [])));
      assert.equal(counts.length, 12);
      assert.equal(proxy.state.starts.length, 12);
      assert.ok(proxy.state.maxInFlight <= 3, `${proxy.state.maxInFlight} requests in flight`);
      assert.ok(proxy.state.maxInFlight >= 2, "the requests did overlap");
      assert.equal(await metric(registry, "threadline_odoo_in_flight"), 0);
    } finally {
      sim.faults.remove(rule);
      await odoo.close();
      await proxy.stop();
    }
  });

  test("requests start no faster than ratePerSecond, retries included", async () => {
    const proxy = await startProxy(sim.url);
    const odoo = await OdooClient.connect({
      ...optionsFor(sim, { concurrency: 10, ratePerSecond: 10 }),
      url: proxy.url,
    });
    proxy.reset();
    sim.faults.add({
      kind: "http_error",
      status: 503,
      model: "res.partner",
      method: "search_count",
      times: 2,
    });
    try {
      await Promise.all(Array.from({ length: 10 }, () => odoo.searchCount("res.partner", [])));
      const starts = proxy.state.starts;
      assert.equal(starts.length, 12);
      // Any 11 consecutive starts span about a second: the client spaces them 100 ms apart, the
      // proxy sees them with some network jitter (a bucket allowing bursts would put 11 in ~100 ms).
      for (let i = 0; i + 10 < starts.length; i++) {
        const span = (starts[i + 10] as number) - (starts[i] as number);
        assert.ok(span >= 900, `starts ${i}..${i + 10} span ${Math.round(span)} ms`);
      }
    } finally {
      await odoo.close();
      await proxy.stop();
    }
  });

  test("a 429 is retried after the Retry-After delay", async () => {
    const proxy = await startProxy(sim.url);
    const registry = new Registry();
    const odoo = await OdooClient.connect({ ...optionsFor(sim, { registry }), url: proxy.url });
    proxy.state.tooManyRequests = 1;
    try {
      const started = performance.now();
      const id = await odoo.create("res.partner", { name: "Rate limited" });
      assert.ok(performance.now() - started >= 990, "waited for Retry-After: 1");
      assert.deepEqual(await odoo.search("res.partner", [["name", "=", "Rate limited"]]), [id]);
      assert.equal(await metric(registry, "threadline_odoo_retries_total", { reason: "http_429" }), 1);
    } finally {
      await odoo.close();
      await proxy.stop();
    }
  });

  test("the breaker opens after consecutive failures, refuses at once, half-opens and closes on recovery", async () => {
    const registry = new Registry();
    const odoo = await OdooClient.connect(
      optionsFor(sim, { registry, retry: { attempts: 1 }, breaker: { failureThreshold: 3, openMs: 300 } }),
    );
    const states: BreakerState[] = [];
    odoo.breaker.onChange((state) => states.push(state));
    await sim.faults.outage({ mode: "refuse" });
    try {
      for (let i = 0; i < 3; i++) {
        const err = await odooError(odoo.searchCount("res.partner", []));
        // The first may go out on a keep-alive connection the server is closing: reset, not refused.
        assert.ok(["connection-refused", "connection-reset"].includes(err.odooName), err.odooName);
      }
      assert.equal(odoo.breaker.state, "open");
      assert.equal(await metric(registry, "threadline_odoo_breaker_state"), 2);

      const refused = await odooError(odoo.create("res.partner", { name: "Refused" }));
      assert.equal(refused.odooName, "circuit-open");
      assert.equal(refused.kind, "transient");
      assert.equal(refused.ambiguous, false);
      assert.equal(
        await metric(registry, "threadline_odoo_requests_total", { outcome: "circuit_open" }),
        1,
        "refused without a request",
      );
      assert.equal(await metric(registry, "threadline_odoo_requests_total", { outcome: "transient" }), 3);
      await sim.faults.endOutage();
      await nextState(odoo, "half-open");
      assert.equal(await metric(registry, "threadline_odoo_breaker_state"), 1);
      assert.equal(typeof (await odoo.searchCount("res.partner", [])), "number");
      assert.deepEqual(states, ["open", "half-open", "closed"]);
      assert.equal(await metric(registry, "threadline_odoo_breaker_state"), 0);
    } finally {
      await sim.faults.clear();
      await odoo.close();
    }
  });

  test("in half-open one probe goes through; a failed probe opens the breaker again", async () => {
    const odoo = await OdooClient.connect(
      optionsFor(sim, {
        retry: { ...FAST_RETRY, attempts: 2 },
        breaker: { failureThreshold: 2, openMs: 200 },
      }),
    );
    const states: BreakerState[] = [];
    odoo.breaker.onChange((state) => states.push(state));
    try {
      await sim.faults.outage({ mode: "503" });
      for (let i = 0; i < 2; i++)
        assert.equal((await odooError(odoo.searchCount("res.partner", []))).odooName, "http.503");
      await nextState(odoo, "half-open");
      assert.equal((await odooError(odoo.searchCount("res.partner", []))).odooName, "http.503");
      assert.equal(odoo.breaker.state, "open");
      await sim.faults.endOutage();

      await nextState(odoo, "half-open");
      sim.faults.add({
        kind: "latency",
        latencyMs: 100,
        model: "res.partner",
        method: "search_count",
        times: 1,
      });
      const probe = odoo.searchCount("res.partner", []);
      const other = await odooError(odoo.searchCount("res.partner", []));
      assert.equal(other.odooName, "circuit-open");
      assert.match(other.odooMessage, /a probe call is under way/);
      assert.equal(typeof (await probe), "number");
      assert.deepEqual(states, ["open", "half-open", "open", "half-open", "closed"]);
    } finally {
      await sim.faults.clear();
      await odoo.close();
    }
  });

  test("each failed probe doubles how long the breaker stays open, up to maxOpenMs; after a recovery it starts again from openMs", async () => {
    const odoo = await OdooClient.connect(
      optionsFor(sim, {
        retry: { ...FAST_RETRY, attempts: 1 },
        breaker: { failureThreshold: 1, openMs: 100, maxOpenMs: 400 },
      }),
    );
    const windows: number[] = [];
    odoo.breaker.onChange((state) => {
      if (state === "open") windows.push(Math.round(odoo.breaker.retryInMs / 50) * 50);
    });
    try {
      await sim.faults.outage({ mode: "503" });
      await odooError(odoo.searchCount("res.partner", []));
      for (let i = 0; i < 3; i++) {
        await nextState(odoo, "half-open");
        await odooError(odoo.searchCount("res.partner", []));
      }
      await sim.faults.endOutage();
      await nextState(odoo, "half-open");
      assert.equal(typeof (await odoo.searchCount("res.partner", [])), "number");
      assert.equal(odoo.breaker.state, "closed");
      await sim.faults.outage({ mode: "503" });
      await odooError(odoo.searchCount("res.partner", []));
      assert.deepEqual(windows, [100, 200, 400, 400, 100]);
    } finally {
      await sim.faults.clear();
      await odoo.close();
    }
  });

  test("a posting that meets a probe held by another caller waits for the probe's answer instead of retrying at once (no busy loop)", async () => {
    const odoo = await OdooClient.connect(
      optionsFor(sim, { retry: { attempts: 1 }, breaker: { failureThreshold: 1, openMs: 150 } }),
    );
    const gate = new BreakerGate(odoo.breaker, 1_000);
    try {
      await sim.faults.outage({ mode: "503" });
      await odooError(odoo.searchCount("res.partner", []));
      assert.equal(odoo.breaker.state, "open");
      await sim.faults.endOutage();
      await nextState(odoo, "half-open");
      // The inbound sync (say) takes the probe; Odoo takes 300 ms to answer it.
      sim.faults.add({
        kind: "latency",
        latencyMs: 300,
        model: "res.partner",
        method: "search_count",
        times: 1,
      });
      const probe = odoo.searchCount("res.partner", []);
      assert.equal(odoo.breaker.probing, true);
      // Meanwhile a posting goes through the gate. A refusal answered by an immediate retry never
      // yields: the attempt count would run away (bounded here so the test cannot hang).
      let attempts = 0;
      const posting = gate.run(new AbortController().signal, async () => {
        if (++attempts > 50)
          throw new Error("the posting was retried 50 times while the probe was under way");
        return odoo.searchRead("res.partner", [], { limit: 1, fields: ["name"] });
      });
      assert.equal(typeof (await probe), "number");
      const rows = await posting;
      assert.equal(rows.length, 1);
      assert.ok(attempts <= 2, `the posting tried ${attempts} times`);
      assert.equal(odoo.breaker.state, "closed");
    } finally {
      gate.close();
      await sim.faults.clear();
      await odoo.close();
    }
  });

  test("a posting waiting at the gate is released when the gate closes (shutdown), as a retryable failure", async () => {
    const odoo = await OdooClient.connect(
      optionsFor(sim, { retry: { attempts: 1 }, breaker: { failureThreshold: 1, openMs: 60_000 } }),
    );
    const gate = new BreakerGate(odoo.breaker, 1_000);
    try {
      await sim.faults.outage({ mode: "503" });
      await odooError(odoo.searchCount("res.partner", []));
      const waiting = gate.run(new AbortController().signal, () => odoo.searchCount("res.partner", []));
      await new Promise((r) => setTimeout(r, 50));
      gate.close();
      await assert.rejects(
        waiting,
        (err: Error) => err instanceof RetryableError && err.code === "CONNECTOR_CIRCUIT_OPEN",
      );
    } finally {
      await sim.faults.clear();
      await odoo.close();
    }
  });

  test("close() ends retry waits, waits for requests in flight and refuses new calls", async () => {
    const odoo = await OdooClient.connect(
      optionsFor(sim, {
        ratePerSecond: 1000,
        retry: { attempts: 3, initialDelayMs: 5000, maxDelayMs: 5000 },
      }),
    );
    sim.faults.add({
      kind: "http_error",
      status: 502,
      model: "res.partner",
      method: "search_count",
      times: 1,
    });
    sim.faults.add({
      kind: "latency",
      latencyMs: 150,
      model: "res.partner",
      method: "search_read",
      times: 1,
    });
    const waiting = odooError(odoo.searchCount("res.partner", []));
    const inFlight = odoo.searchRead("res.partner", [], { limit: 1 });
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await odoo.close();
    assert.ok(performance.now() - started < 2000, "close() did not wait for the 5 s back-off");
    assert.equal((await waiting).odooName, "http.502");
    assert.equal((await inFlight).length, 1);
    const closed = await odooError(odoo.searchCount("res.partner", []));
    assert.equal(closed.odooName, "closed");
  });
});
