import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import {
  OdooClient,
  type OdooClientOptions,
  OdooConnectError,
  OdooError,
} from "../../services/odoo-connector/src/odoo/index.js";
import { ConfigError } from "../../streams/src/errors.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";

function optionsFor(sim: OdooSimulator, overrides: Partial<OdooClientOptions> = {}): OdooClientOptions {
  return {
    url: sim.url,
    db: sim.db,
    login: sim.credentials.login,
    apiKey: sim.credentials.apiKey,
    timeoutMs: 5000,
    registry: new Registry(),
    ...overrides,
  };
}

async function connectError(options: OdooClientOptions): Promise<OdooConnectError> {
  try {
    const client = await OdooClient.connect(options);
    await client.close();
  } catch (err) {
    assert.ok(err instanceof OdooConnectError, `expected an OdooConnectError, got ${String(err)}`);
    return err;
  }
  assert.fail("connect() succeeded");
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

/** A tiny HTTP server answering every request with `reply`. */
async function startServer(
  reply: (path: string, body: string) => { status: number; type: string; body: string },
) {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = reply(req.url ?? "/", Buffer.concat(chunks).toString("utf8"));
      res.writeHead(r.status, { "Content-Type": r.type });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const profile of [16, 17, 18, 19] as const) {
  const protocol = profile >= 19 ? "json2" : "jsonrpc";

  describe(`odoo client - Odoo ${profile}`, () => {
    let sim: OdooSimulator;
    let odoo: OdooClient;

    before(async () => {
      sim = await startOdooSimulator({ profile });
      odoo = await OdooClient.connect(optionsFor(sim));
    });
    after(async () => {
      await odoo.close();
      await sim.stop();
    });

    test(`connect reports the version and the user, and chooses ${protocol}`, async () => {
      assert.deepEqual(odoo.version, { major: profile, serverVersion: `${profile}.0` });
      assert.equal(odoo.uid, sim.credentials.uid);
      assert.equal(odoo.protocol, protocol);
      assert.equal(odoo.breaker.state, "closed");
      await odoo.searchCount("res.partner", []);
      const last = sim.calls().at(-1);
      assert.equal(last?.protocol, protocol);
      assert.equal(last?.method, "search_count");
      assert.equal(last?.uid, sim.credentials.uid);
    });

    test("create, search, searchCount, searchRead, read and write round-trip", async () => {
      const before = await odoo.searchCount("res.partner", []);
      const one = await odoo.create("res.partner", { name: `Client ${profile} one`, ref: "R1" });
      assert.equal(typeof one, "number");
      const two = await odoo.create("res.partner", [
        { name: `Client ${profile} two`, ref: "R2" },
        { name: `Client ${profile} three`, ref: "R3" },
      ]);
      assert.equal(two.length, 2);
      assert.equal(await odoo.searchCount("res.partner", []), before + 3);

      const found = await odoo.search("res.partner", [["name", "like", `Client ${profile}`]], {
        order: "id desc",
        limit: 2,
      });
      assert.deepEqual(found, [two[1], two[0]]);

      assert.equal(await odoo.write("res.partner", [one], { ref: "R1-changed" }), true);
      const rows = await odoo.searchRead<{ id: number; name: string; ref: string }>(
        "res.partner",
        [["name", "like", `Client ${profile}`]],
        { fields: ["name", "ref"], order: "id", offset: 0, limit: 10 },
      );
      assert.deepEqual(
        rows.map((r) => [r.id, r.ref]),
        [
          [one, "R1-changed"],
          [two[0], "R2"],
          [two[1], "R3"],
        ],
      );
      const [read] = await odoo.read<{ id: number; name: string }>("res.partner", [one], ["name"]);
      assert.deepEqual(read, { id: one, name: `Client ${profile} one` });
    });

    test("call() passes named arguments, ids and context", async () => {
      const id = await odoo.create("res.partner", { name: `Named ${profile}` });
      const rows = await odoo.call<Array<{ id: number; name: string }>>("res.partner", "read", {
        ids: [id],
        fields: ["name"],
        context: { lang: "en_US" },
      });
      assert.deepEqual(rows, [{ id, name: `Named ${profile}` }]);
      const created = await odoo.call("res.partner", "create", {
        vals_list: [{ name: `Named ${profile} 2` }],
      });
      assert.ok(Array.isArray(created) && created.length === 1);
    });

    test("a ValidationError is permanent, keeps Odoo's name and message, and is not retried", async () => {
      const [product] = await sim.env.search("product.product", [["default_code", "=", "FIN-HJ250"]]);
      const name = `LOT-${profile}-DUP`;
      await odoo.create("stock.lot", { name, product_id: product });
      const sent = () => sim.calls().filter((c) => c.model === "stock.lot").length;
      const before = sent();
      const err = await odooError(odoo.create("stock.lot", { name, product_id: product }));
      assert.equal(sent(), before + 1);
      assert.equal(err.code, "ODOO_VALIDATION_ERROR");
      assert.equal(err.kind, "permanent");
      assert.equal(err.ambiguous, false);
      assert.equal(err.odooName, "odoo.exceptions.ValidationError");
      assert.match(err.odooMessage, /^The combination of (lot\/)?serial number and product must be unique/);
      assert.equal(err.model, "stock.lot");
      assert.equal(err.method, "create");
      assert.match(err.message, /^stock\.lot\.create: odoo\.exceptions\.ValidationError: /);
      if (protocol === "json2") assert.equal(err.httpStatus, 422);
    });

    test("an unknown model is a permanent error named as Odoo names it", async () => {
      const err = await odooError(odoo.searchCount("x_no_such_model", []));
      assert.equal(err.kind, "permanent");
      if (protocol === "json2") {
        assert.equal(err.odooName, "werkzeug.exceptions.NotFound");
        assert.equal(err.httpStatus, 404);
      } else {
        assert.equal(err.odooName, "odoo.exceptions.UserError");
        assert.equal(err.odooMessage, "Object x_no_such_model doesn't exist");
      }
    });

    test("a wrong API key fails with CONNECTOR_LOGIN_FAILED, and the message does not show the key", async () => {
      const wrongKey = "0123456789abcdef0123456789abcdef01234567";
      const err = await connectError(optionsFor(sim, { apiKey: wrongKey }));
      assert.equal(err.code, "CONNECTOR_LOGIN_FAILED");
      assert.match(err.message, /refused login "admin"/);
      assert.ok(!err.message.includes(wrongKey));
      assert.ok(!JSON.stringify(err).includes(wrongKey));
    });

    test("an unknown database fails with CONNECTOR_DATABASE_UNKNOWN", async () => {
      const err = await connectError(optionsFor(sim, { db: "nosuchdb" }));
      assert.equal(err.code, "CONNECTOR_DATABASE_UNKNOWN");
      assert.match(err.message, /database "nosuchdb" not found on http:\/\/127\.0\.0\.1:\d+/);
    });

    if (protocol === "jsonrpc") {
      test("protocol json2 is refused below Odoo 19 with CONNECTOR_VERSION_UNSUPPORTED", async () => {
        const err = await connectError(optionsFor(sim, { protocol: "json2" }));
        assert.equal(err.code, "CONNECTOR_VERSION_UNSUPPORTED");
        assert.match(err.message, /json2 needs Odoo 19 or later/);
      });

      test("over JSON-RPC the password works as well as an API key", async () => {
        const client = await OdooClient.connect(optionsFor(sim, { apiKey: sim.credentials.password }));
        assert.equal(client.uid, sim.credentials.uid);
        await client.close();
      });
    } else {
      test("JSON-2 refuses a password: CONNECTOR_LOGIN_FAILED; JSON-RPC can still be chosen on 19", async () => {
        const err = await connectError(optionsFor(sim, { apiKey: sim.credentials.password }));
        assert.equal(err.code, "CONNECTOR_LOGIN_FAILED");
        assert.match(err.message, /Invalid apikey/);
        const client = await OdooClient.connect(optionsFor(sim, { protocol: "jsonrpc" }));
        assert.equal(client.protocol, "jsonrpc");
        assert.equal(typeof (await client.searchCount("res.partner", [])), "number");
        await client.close();
      });

      test("an API key of another user than the login fails with CONNECTOR_LOGIN_FAILED", async () => {
        const err = await connectError(optionsFor(sim, { apiKey: sim.restricted.apiKey }));
        assert.equal(err.code, "CONNECTOR_LOGIN_FAILED");
        assert.match(err.message, /belongs to user "shopfloor"/);
        assert.ok(!err.message.includes(sim.restricted.apiKey));
      });
    }
  });
}

describe("odoo client - connecting to something that is not a working Odoo", () => {
  test("a port with nothing listening fails with CONNECTOR_ODOO_UNREACHABLE naming the URL", async () => {
    const server = await startServer(() => ({ status: 200, type: "text/plain", body: "" }));
    await server.stop();
    const err = await connectError({ url: server.url, db: "x", login: "admin", apiKey: "k".repeat(40) });
    assert.equal(err.code, "CONNECTOR_ODOO_UNREACHABLE");
    assert.equal(err.url, server.url);
    assert.ok(err.message.startsWith(`cannot reach Odoo at ${server.url}: ECONNREFUSED`), err.message);
  });

  test("an HTTP server answering an HTML 404 fails with CONNECTOR_NOT_ODOO", async () => {
    const server = await startServer(() => ({
      status: 404,
      type: "text/html",
      body: "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>nope</body></html>",
    }));
    try {
      const err = await connectError({ url: server.url, db: "x", login: "admin", apiKey: "k".repeat(40) });
      assert.equal(err.code, "CONNECTOR_NOT_ODOO");
      assert.match(err.message, /is not an Odoo server: POST .*\/jsonrpc answered HTTP 404 \(text\/html\)/);
      assert.match(err.message, /404 Not Found/);
    } finally {
      await server.stop();
    }
  });

  test("a proxy answering 502 fails with CONNECTOR_ODOO_UNREACHABLE", async () => {
    const server = await startServer(() => ({
      status: 502,
      type: "text/html",
      body: "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
    }));
    try {
      const err = await connectError({ url: server.url, db: "x", login: "admin", apiKey: "k".repeat(40) });
      assert.equal(err.code, "CONNECTOR_ODOO_UNREACHABLE");
      assert.match(err.message, /a proxy answers, but not Odoo behind it/);
    } finally {
      await server.stop();
    }
  });

  test("Odoo 15 fails with CONNECTOR_VERSION_UNSUPPORTED", async () => {
    const server = await startServer((_path, body) => ({
      status: 200,
      type: "application/json",
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: (JSON.parse(body) as { id: number }).id,
        result: {
          server_version: "15.0",
          server_version_info: [15, 0, 0, "final", 0, ""],
          protocol_version: 1,
        },
      }),
    }));
    try {
      const err = await connectError({ url: server.url, db: "x", login: "admin", apiKey: "k".repeat(40) });
      assert.equal(err.code, "CONNECTOR_VERSION_UNSUPPORTED");
      assert.match(err.message, /runs 15\.0: Threadline needs Odoo 16 or later/);
    } finally {
      await server.stop();
    }
  });

  test("invalid options fail with a ConfigError naming the option", async () => {
    const base = { url: "http://127.0.0.1:1", db: "x", login: "admin", apiKey: "secret" };
    await assert.rejects(OdooClient.connect({ ...base, url: "ftp://host" }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, "url");
      return true;
    });
    await assert.rejects(OdooClient.connect({ ...base, concurrency: 0 }), { key: "concurrency" });
    await assert.rejects(OdooClient.connect({ ...base, apiKey: "" }), { key: "apiKey" });
    await assert.rejects(OdooClient.connect({ ...base, retry: { multiplier: 0.5 } }), {
      key: "retry.multiplier",
    });
  });
});

describe("odoo client - logs", () => {
  test("debug logs name model, method and outcome, and never the API key or the password", async () => {
    for (const profile of [17, 19] as const) {
      const sim = await startOdooSimulator({ profile });
      let text = "";
      const sink = new Writable({
        write(chunk, _enc, done) {
          text += String(chunk);
          done();
        },
      });
      const logger = pino({ level: "debug" }, sink);
      const odoo = await OdooClient.connect(optionsFor(sim, { logger }));
      await odoo.searchRead("res.partner", [], { limit: 1 });
      await odooError(odoo.create("x_threadline_posting", {}));
      await odoo.close();
      const wrongKey = `${sim.credentials.apiKey}0`;
      await connectError(optionsFor(sim, { apiKey: wrongKey, logger }));
      await sim.stop();
      const lines = text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const requests = lines.filter((l) => l["msg"] === "odoo request");
      assert.deepEqual(
        requests.map((l) => [l["model"], l["method"], l["outcome"]]),
        [
          ["res.partner", "search_read", "ok"],
          ["x_threadline_posting", "create", "permanent"],
        ],
      );
      assert.ok(!text.includes(sim.credentials.apiKey), "the API key is in the logs");
      assert.ok(!text.includes(sim.credentials.password), "the password is in the logs");
      assert.ok(!text.includes(wrongKey), "the wrong key is in the logs");
    }
  });
});
