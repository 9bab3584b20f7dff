import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";
import { ConfigError } from "../../streams/src/errors.js";
import { RawOdooClient } from "../../tools/sim/odoo/client.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";

type Auth = { db: string; uid: number; password: string };

describe("odoo simulator - fault injection", () => {
  let sim: OdooSimulator;
  let client: RawOdooClient;
  let auth: Auth;

  before(async () => {
    sim = await startOdooSimulator({ profile: 17, seed: 21 });
    client = new RawOdooClient(sim.url);
    auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
  });
  after(() => sim.stop());

  test("latency delays matching calls only", async () => {
    const id = sim.faults.add({ kind: "latency", latencyMs: 300, model: "res.partner", times: 1 });
    await client.call(auth, "mrp.production", "search_count", [[]]);
    assert.deepEqual(
      sim.faults.list().map((r) => [r.id, r.hits]),
      [[id, 0]],
    );
    const t = Date.now();
    await client.call(auth, "res.partner", "search_count", [[]]);
    assert.ok(Date.now() - t >= 290);
    assert.equal(sim.faults.list().length, 0);
  });

  test("http_error answers an nginx HTML page for the next N calls", async () => {
    sim.faults.add({ kind: "http_error", status: 502, times: 2, protocol: "jsonrpc" });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${sim.url}/jsonrpc`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          params: { service: "common", method: "version", args: [] },
        }),
      });
      assert.equal(res.status, 502);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(
        await res.text(),
        /<center><h1>502 Bad Gateway<\/h1><\/center>\r\n<hr><center>nginx<\/center>/,
      );
    }
    assert.equal((await client.jsonrpc("common", "version", [])).status, 200);
  });

  test("serialization_failure is psycopg2's error after Odoo's retries, and nothing is written", async () => {
    sim.faults.add({ kind: "serialization_failure", model: "res.partner", method: "create", times: 1 });
    const before = await client.call(auth, "res.partner", "search_count", [[]]);
    const env = await client.executeKw(auth, "res.partner", "create", [{ name: "Racer" }]);
    assert.equal(env.error?.code, 200);
    assert.equal(env.error?.data["name"], "psycopg2.errors.SerializationFailure");
    assert.equal(env.error?.data["message"], "could not serialize access due to concurrent update\n");
    assert.equal(await client.call(auth, "res.partner", "search_count", [[]]), before);
    const xml = await client.xmlrpc("/xmlrpc/2/object", "execute_kw", [
      sim.db,
      auth.uid,
      auth.password,
      "res.partner",
      "search",
      [[]],
    ]);
    assert.ok("value" in xml.parsed);
  });

  test("timeout accepts the request and never answers", async () => {
    sim.faults.add({ kind: "timeout", method: "search_read", times: 1 });
    await assert.rejects(
      fetch(`${sim.url}/jsonrpc`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          params: {
            service: "object",
            method: "execute_kw",
            args: [sim.db, auth.uid, auth.password, "res.partner", "search_read", [[]], {}],
          },
        }),
        signal: AbortSignal.timeout(400),
      }),
      (err: Error) => err.name === "TimeoutError",
    );
  });

  test("session_expired answers code 100 and drops web sessions", async () => {
    sim.faults.add({ kind: "session_expired", protocol: "jsonrpc", times: 1 });
    const env = await client.executeKw(auth, "res.partner", "search", [[]]);
    assert.equal(env.error?.code, 100);
    assert.equal(env.error?.message, "Odoo Session Expired");
    assert.equal(env.error?.data["name"], "odoo.http.SessionExpiredException");
  });

  test("probability draws are reproducible for a seed", async () => {
    const pattern = async (seed: number) => {
      const s = await startOdooSimulator({ profile: 16, seed });
      try {
        s.faults.add({ kind: "http_error", probability: 0.5, status: 503 });
        const out: number[] = [];
        for (let i = 0; i < 12; i++)
          out.push(
            (await new RawOdooClient(s.url).jsonrpc("common", "version", []).catch(() => ({ status: 503 })))
              .status,
          );
        return out;
      } finally {
        await s.stop();
      }
    };
    const a = await pattern(42);
    assert.deepEqual(await pattern(42), a);
    assert.ok(a.includes(503) && a.includes(200), `mixed outcomes expected, got ${a}`);
  });

  test("an outage in refuse mode closes the listener, then the same URL answers again", async () => {
    await sim.faults.outage({ mode: "refuse", durationMs: 400 });
    // A pooled keep-alive connection may first fail as "other side closed"; a new one is refused.
    const failure = async () => {
      const err = await client.jsonrpc("common", "version", []).then(
        () => undefined,
        (e: Error) => e,
      );
      const cause = err?.cause as { code?: string; message?: string } | undefined;
      return cause?.code ?? cause?.message ?? String(err);
    };
    let reason = await failure();
    if (reason !== "ECONNREFUSED") reason = await failure();
    assert.equal(reason, "ECONNREFUSED");
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await client.jsonrpc("common", "version", [])).status, 200);
  });

  test("an outage in 503 mode answers every request with the proxy page until it ends", async () => {
    await sim.faults.outage({ mode: "503" });
    const res = await fetch(`${sim.url}/xmlrpc/2/common`, {
      method: "POST",
      body: "<methodCall><methodName>version</methodName></methodCall>",
    });
    assert.equal(res.status, 503);
    assert.match(await res.text(), /503 Service Temporarily Unavailable/);
    await sim.faults.endOutage();
    assert.equal((await client.jsonrpc("common", "version", [])).status, 200);
  });

  test("the admin endpoint needs the token and drives the same faults", async () => {
    const admin = (method: string, path: string, body?: unknown, token = sim.adminToken) =>
      fetch(`${sim.url}${path}`, {
        method,
        headers: { "X-Sim-Token": token, "Content-Type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    assert.equal((await admin("GET", "/__sim/faults", undefined, "wrong-token")).status, 401);
    const bad = await admin("POST", "/__sim/faults", { kind: "nope" });
    assert.equal(bad.status, 400);
    const created = await admin("POST", "/__sim/faults", { kind: "http_error", status: 504, times: 1 });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const listed = (await (await admin("GET", "/__sim/faults")).json()) as { rules: { id: string }[] };
    assert.deepEqual(
      listed.rules.map((r) => r.id),
      [id],
    );
    assert.equal((await client.jsonrpc("common", "version", []).catch(() => ({ status: 504 }))).status, 504);
    const outage = await admin("POST", "/__sim/faults", { outage: { mode: "503", durationMs: 300 } });
    assert.equal(outage.status, 202);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await fetch(`${sim.url}/jsonrpc`, { method: "POST", body: "{}" })).status, 503);
    await new Promise((r) => setTimeout(r, 400));
    const calls = (await (await admin("GET", "/__sim/calls")).json()) as { error?: string }[];
    assert.ok(calls.some((c) => c.error === "fault:http_error"));
    assert.equal((await admin("DELETE", "/__sim/faults")).status, 200);
  });
});

describe("odoo simulator - webhooks", () => {
  let receiver: Server;
  let base: string;
  const received: { path: string; body: string; headers: IncomingMessage["headers"] }[] = [];
  let sim: OdooSimulator;
  let client: RawOdooClient;
  let auth: Auth;

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: Buffer.concat(chunks).toString(), headers: req.headers });
        if (req.url === "/slow") setTimeout(() => res.end("late"), 2500).unref();
        else if (req.url === "/fail") res.writeHead(500).end("boom");
        else res.end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    sim = await startOdooSimulator({
      profile: 17,
      seed: 2,
      webhooks: [
        {
          model: "mrp.production",
          on: "write",
          url: `${base}/mo`,
          fields: ["name", "state", "product_id", "date_start"],
          triggerFields: ["state"],
          name: "MO state",
        },
        { model: "quality.alert", on: "create", url: `${base}/slow` },
        { model: "quality.check", on: "create_or_write", url: `${base}/fail` },
      ],
    });
    client = new RawOdooClient(sim.url);
    auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
  });
  after(async () => {
    await sim.stop();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  test("a write on a watched field POSTs Odoo's payload: sorted JSON, _action/_id/_model, read(load=None)", async () => {
    const [mo] = (await client.call(auth, "mrp.production", "search", [[["state", "=", "draft"]]], {
      limit: 1,
    })) as number[];
    await client.call(auth, "mrp.production", "write", [[mo], { origin: "no trigger" }]);
    assert.equal(received.filter((r) => r.path === "/mo").length, 0);
    await client.call(auth, "mrp.production", "action_confirm", [[mo]]);
    const hooks = received.filter((r) => r.path === "/mo");
    assert.equal(hooks.length, 1);
    const hook = hooks[0] as (typeof received)[number];
    assert.equal(hook.headers["content-type"], "application/json");
    assert.equal(hook.headers["authorization"], undefined);
    const payload = JSON.parse(hook.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(payload), [
      "_action",
      "_id",
      "_model",
      "date_start",
      "id",
      "name",
      "product_id",
      "state",
    ]);
    assert.equal(payload["_action"], "MO state(#700)");
    assert.equal(payload["_id"], mo);
    assert.equal(payload["_model"], "mrp.production");
    assert.equal(payload["state"], "confirmed");
    assert.equal(typeof payload["product_id"], "number");
    assert.match(String(payload["date_start"]), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.match(hook.body, /^\{"_action": "MO state\(#700\)", "_id": \d+, "_model": "mrp.production", /);
  });

  test("a slow receiver is abandoned after 1 s, a failing one is not retried; the RPC call still succeeds", async () => {
    const t = Date.now();
    const id = await client.call(auth, "quality.alert", "create", [{ title: "webhook test" }]);
    const elapsed = Date.now() - t;
    assert.equal(typeof id, "number");
    assert.ok(elapsed >= 950, `took ${elapsed} ms`);
    const slow = sim.webhookDeliveries().filter((d) => d.url.endsWith("/slow"));
    assert.equal(slow.length, 1);
    assert.equal(slow[0]?.error, "timeout");
    assert.ok((slow[0]?.durationMs ?? 0) < 2500, "abandoned before the receiver answered");
    assert.deepEqual(JSON.parse(slow[0]?.body ?? "{}"), {
      _action: "Threadline webhook 2(#701)",
      _id: id,
      _model: "quality.alert",
    });
    const [check] = (await client.call(auth, "quality.check", "search", [[]], { limit: 1 })) as number[];
    await client.call(auth, "quality.check", "do_pass", [[check]]);
    const failing = sim.webhookDeliveries().filter((d) => d.url.endsWith("/fail"));
    assert.equal(failing.length, 1);
    assert.equal(failing[0]?.status, 500);
    assert.equal(received.filter((r) => r.path === "/fail").length, 1);
  });

  test("webhooks are refused on 16, where the server action type does not exist", async () => {
    await assert.rejects(
      startOdooSimulator({
        profile: 16,
        webhooks: [{ model: "mrp.production", on: "write", url: `${base}/mo` }],
      }),
      (err: Error) => err instanceof ConfigError && err.key === "webhooks",
    );
  });
});

describe("threadline sim odoo - the CLI process through its own faults", () => {
  test("a refuse outage started over HTTP closes the listener, then the same URL answers again with the same database; the process never exits; secrets set in the environment are never printed", async (t) => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const secrets = {
      ODOO_SIM_ADMIN_PASSWORD: "admin-secret-from-env",
      ODOO_SIM_API_KEY: "admin-key-from-env-0123456789",
      ODOO_SIM_RESTRICTED_PASSWORD: "shop-secret-from-env",
      ODOO_SIM_RESTRICTED_API_KEY: "shop-key-from-env-0123456789",
      ODOO_SIM_ADMIN_TOKEN: "sim-token-from-env-0123456789",
    };
    const child = spawn(
      process.execPath,
      [join(PACKAGE_ROOT, "bin/threadline.js"), "sim", "odoo", "--profile", "17", "--port", String(port)],
      { env: { ...process.env, ...secrets }, stdio: ["ignore", "pipe", "pipe"] },
    );
    t.after(() => child.kill("SIGKILL"));
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    let exitCode: number | null | undefined;
    child.once("exit", (code) => {
      exitCode = code;
    });
    const url = `http://127.0.0.1:${port}`;
    const version = () =>
      fetch(`${url}/jsonrpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "call",
          params: { service: "common", method: "version", args: [] },
        }),
      });
    const client = new RawOdooClient(url);
    const auth = { db: "threadline", uid: 2, password: secrets.ODOO_SIM_ADMIN_PASSWORD };
    for (let i = 0; i < 200 && !(await version().catch(() => undefined)); i++)
      await new Promise((r) => setTimeout(r, 50));
    const id = (await client.call(auth, "res.partner", "create", [{ name: "Before the outage" }])) as number;

    const started = await fetch(`${url}/__sim/faults`, {
      method: "POST",
      headers: { "x-sim-token": secrets.ODOO_SIM_ADMIN_TOKEN, "content-type": "application/json" },
      body: JSON.stringify({ outage: { mode: "refuse", durationMs: 1_500 } }),
    });
    assert.equal(started.status, 202);
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(version(), "connections are refused during the outage");
    await new Promise((r) => setTimeout(r, 1_800));
    assert.equal(exitCode, undefined, `the simulator exited during the outage: ${output}`);
    assert.equal((await version()).status, 200, "the listener is back");
    const [row] = (await client.call(auth, "res.partner", "read", [[id], ["name"]])) as { name: string }[];
    assert.equal(row?.name, "Before the outage", "the database survived the outage");

    const endless = await fetch(`${url}/__sim/faults`, {
      method: "POST",
      headers: { "x-sim-token": secrets.ODOO_SIM_ADMIN_TOKEN, "content-type": "application/json" },
      body: JSON.stringify({ outage: { mode: "refuse" } }),
    });
    assert.equal(
      endless.status,
      400,
      "a refuse outage with no end is refused over HTTP: nothing could end it",
    );
    assert.match(((await endless.json()) as { error: string }).error, /durationMs is required/);

    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(!output.includes(value), `${name} was printed`);
      assert.ok(output.includes(`from $${name}`), `where ${name} came from is said`);
    }
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    assert.equal(exitCode, 0, output);
  });
});
