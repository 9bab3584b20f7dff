/**
 * Genealogy HTTP API - the routes as a client sees them, over a real embedded database holding a small
 * plant's history (test/harness/genealogy.ts: a supplier lot pressed into an intermediate lot, made
 * into a finished lot, part of it shipped to a customer, the rest on hold), through fastify's inject().
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import Fastify from "fastify";
import {
  GENEALOGY_ROUTES,
  type GenealogyQueryApi,
  registerGenealogyRoutes,
} from "../../services/genealogy-builder/src/http.js";
import type { RecallReport, TraceResult } from "../../services/genealogy-builder/src/query/types.js";
import { CUSTOMER, genealogyServer, LOTS, SHIPMENT, TOKEN } from "../harness/genealogy.js";
import { until } from "../harness/wait.js";

const server = await genealogyServer();
after(() => server.close());

const auth = { authorization: `Bearer ${TOKEN}` };
const get = (url: string) => server.app.inject({ url, headers: auth });
const lotUrl = (lot: string) => `/genealogy/lots/${encodeURIComponent(lot)}`;
/** Queries that fail with `err` whatever they are asked. */
const failing = (err: Error): GenealogyQueryApi => {
  const fail = async () => {
    throw err;
  };
  return { resolveLot: fail, trace: fail, recall: fail, whereUsed: fail, findLots: fail };
};
const keys = (lots: readonly { product: string; lot: string }[]) =>
  lots.map((l) => `${l.product} ${l.lot}`).sort();

describe("genealogy HTTP - who may ask", () => {
  test("every route but the OpenAPI document refuses a request without the token or with a wrong one: 401, WWW-Authenticate: Bearer", async () => {
    const urls = [
      "/genealogy/lots?prefix=LOT",
      `${lotUrl(LOTS.finished.lot)}/trace?direction=backward`,
      `${lotUrl(LOTS.raw.lot)}/recall`,
      `${lotUrl(LOTS.raw.lot)}/epcis`,
      "/genealogy/where-used/RAW-1",
    ];
    for (const url of urls)
      for (const headers of [{}, { authorization: "Bearer wrong-token" }, { authorization: TOKEN }]) {
        const r = await server.app.inject({ url, headers });
        assert.equal(r.statusCode, 401, `${url} with ${JSON.stringify(headers)}`);
        assert.match(String(r.headers["www-authenticate"]), /^Bearer/);
        assert.equal(r.json().error.code, "GENEALOGY_UNAUTHORIZED");
      }
    const rebuild = await server.app.inject({ method: "POST", url: "/genealogy/rebuild" });
    assert.equal(rebuild.statusCode, 401);
    assert.equal(server.rebuilds(), 0, "nothing was rebuilt for an unauthenticated caller");
    assert.equal((await server.app.inject({ url: "/genealogy/openapi.json" })).statusCode, 200);
  });

  test("an empty token is refused when the routes are registered: it would leave every trace open", () => {
    assert.throws(
      () => registerGenealogyRoutes(Fastify(), { token: "", queries: () => undefined }),
      /bearer token/,
    );
  });
});

describe("genealogy HTTP - refused requests name what is wrong", () => {
  const invalid = async (url: string, parameter: RegExp) => {
    const r = await get(url);
    assert.equal(r.statusCode, 400, url);
    const { error } = r.json();
    assert.equal(error.code, "GENEALOGY_QUERY_INVALID");
    assert.match(error.message, parameter);
    return error.message as string;
  };

  test("a depth of 0 or abc, a window whose since is after its until, a missing direction: 400 naming the parameter", async () => {
    const trace = `${lotUrl(LOTS.finished.lot)}/trace`;
    assert.match(await invalid(`${trace}?direction=backward&depth=0`, /\bdepth\b/), /1 to 50/);
    assert.match(await invalid(`${trace}?direction=backward&depth=abc`, /\bdepth\b/), /"abc"/);
    await invalid(`${lotUrl(LOTS.raw.lot)}/recall?depth=51`, /\bdepth\b/);
    await invalid(
      `${trace}?direction=forward&since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z`,
      /\bsince\b.*\buntil\b/,
    );
    await invalid(`${trace}?direction=forward&since=yesterday`, /\bsince\b.*ISO-8601/);
    await invalid(trace, /\bdirection\b.*required/);
    await invalid(`${trace}?direction=sideways`, /\bdirection\b/);
  });

  test("a misspelt parameter is refused by name rather than ignored", async () => {
    await invalid(
      `${lotUrl(LOTS.finished.lot)}/trace?direction=backward&dept=3`,
      /unknown query parameter dept/,
    );
  });

  test("a lot the genealogy does not know: 404 GENEALOGY_LOT_UNKNOWN naming it", async () => {
    const r = await get(`${lotUrl("LOT/1999/404")}/trace?direction=backward`);
    assert.equal(r.statusCode, 404);
    assert.equal(r.json().error.code, "GENEALOGY_LOT_UNKNOWN");
    assert.match(r.json().error.message, /LOT\/1999\/404/);
  });

  test("a lot name two products share: 409 with both as candidates; naming the product traces it", async () => {
    const r = await get(`${lotUrl(LOTS.shared)}/recall`);
    assert.equal(r.statusCode, 409);
    const { error } = r.json();
    assert.equal(error.code, "GENEALOGY_LOT_AMBIGUOUS");
    assert.deepEqual(keys(error.details.candidates), [`RAW-1 ${LOTS.shared}`, `RAW-2 ${LOTS.shared}`]);
    const named = await get(`${lotUrl(LOTS.shared)}/trace?direction=forward&product=RAW-2`);
    assert.equal(named.statusCode, 200);
    assert.deepEqual(keys([(named.json() as TraceResult).root]), [`RAW-2 ${LOTS.shared}`]);
  });
});

describe("genealogy HTTP - traces and recalls", () => {
  test("a backward trace of the finished lot reaches the intermediate lot and the supplier lot with its supplier's number", async () => {
    const r = await get(`${lotUrl(LOTS.finished.lot)}/trace?direction=backward`);
    assert.equal(r.statusCode, 200);
    const t = r.json() as TraceResult;
    assert.equal(t.direction, "backward");
    assert.deepEqual(keys(t.lots), ["FG-1 FG-001", "INT-1 INT-001", `RAW-1 ${LOTS.raw.lot}`]);
    assert.deepEqual(
      t.supplierLots.map((s) => [s.lot.lot, s.supplierLot]),
      [[LOTS.raw.lot, "SUP-77"]],
    );
    assert.equal(t.truncated, false);
  });

  test("a forward trace of the supplier lot, its name's slashes encoded in the path, reaches the finished lot, the shipment and the customer", async () => {
    const r = await get(`/genealogy/lots/LOT%2F2026%2F001/trace?direction=forward`);
    assert.equal(r.statusCode, 200);
    const t = r.json() as TraceResult;
    assert.deepEqual(keys([t.root]), [`RAW-1 ${LOTS.raw.lot}`]);
    assert.deepEqual(keys(t.lots), ["FG-1 FG-001", "INT-1 INT-001", `RAW-1 ${LOTS.raw.lot}`]);
    assert.deepEqual(
      t.shipments.map((s) => [s.pickingRef, s.status, s.customerRef]),
      [[SHIPMENT, "SHIPPED", CUSTOMER.ref]],
    );
    assert.deepEqual(
      t.customers.map((c) => c.customerRef),
      [CUSTOMER.ref],
    );
  });

  test("depth=1 stops after one edge and says the trace goes further", async () => {
    const t = (
      await get(`${lotUrl(LOTS.finished.lot)}/trace?direction=backward&depth=1`)
    ).json() as TraceResult;
    assert.deepEqual(keys(t.lots), ["FG-1 FG-001", "INT-1 INT-001"]);
    assert.equal(t.truncated, true);
  });

  test("the recall of the supplier lot names the customer with the part of the lot they got, the lot to block with its stock, and the lot on hold", async () => {
    const r = await get(`${lotUrl(LOTS.raw.lot)}/recall`);
    assert.equal(r.statusCode, 200);
    const report = r.json() as RecallReport;
    // 60 of the 100 discs shipped, made of 40 kg of powder: 24 kg of it reached the customer.
    assert.deepEqual(
      report.customers.map((c) => [c.customerRef, c.name, c.tracedQuantity]),
      [[CUSTOMER.ref, CUSTOMER.name, { value: "24", uom: "kg" }]],
    );
    assert.deepEqual(
      report.toBlock.map((l) => [`${l.product} ${l.lot}`, l.stock]),
      [[`RAW-1 ${LOTS.raw.lot}`, [{ location: "WH/Stock", quantity: { value: "60", uom: "kg" } }]]],
    );
    assert.deepEqual(
      report.onHold.map((l) => [`${l.product} ${l.lot}`, l.holds.map((h) => h.holdId)]),
      [["FG-1 FG-001", ["HOLD-1"]]],
    );
  });

  test("where-used lists the lots a component went into; lots finds lots by prefix", async () => {
    const used = await get(`/genealogy/where-used/RAW-1?lot=${encodeURIComponent(LOTS.raw.lot)}`);
    assert.equal(used.statusCode, 200);
    assert.deepEqual(
      used
        .json()
        .rows.map(
          (row: { produced: { product: string; lot: string } }) =>
            `${row.produced.product} ${row.produced.lot}`,
        ),
      ["INT-1 INT-001"],
    );
    const found = await get("/genealogy/lots?prefix=LOT%2F2026");
    assert.deepEqual(keys(found.json().lots), [`RAW-1 ${LOTS.raw.lot}`]);
  });

  test("the EPCIS export is a JSON-LD document", async () => {
    const r = await get(`${lotUrl(LOTS.finished.lot)}/epcis`);
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers["content-type"]), /^application\/ld\+json/);
    assert.equal(r.json().type, "EPCISDocument");
  });

  test("POST /genealogy/rebuild runs the rebuild once and answers what it reports", async () => {
    const r = await server.app.inject({ method: "POST", url: "/genealogy/rebuild", headers: auth });
    assert.equal(r.statusCode, 200);
    assert.equal(server.rebuilds(), 1);
    assert.equal(r.json().rebuilt, true);
  });

  test("a rebuild asked for while one runs is refused with 409 GENEALOGY_REBUILD_RUNNING; nothing more is started", async () => {
    let started = 0;
    let finish = () => {};
    const app = Fastify();
    registerGenealogyRoutes(app, {
      token: TOKEN,
      queries: () => failing(new Error("not asked")),
      rebuild: () => {
        started++;
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    });
    const first = app.inject({ method: "POST", url: "/genealogy/rebuild", headers: auth });
    await until("the first rebuild to start", () => started === 1);
    const second = await app.inject({ method: "POST", url: "/genealogy/rebuild", headers: auth });
    assert.equal(second.statusCode, 409);
    assert.equal(second.json().error.code, "GENEALOGY_REBUILD_RUNNING");
    finish();
    assert.equal((await first).statusCode, 200);
    assert.equal(started, 1);
  });
});

describe("genealogy HTTP - when the database is not there", () => {
  test("while the service starts (no queries yet), the routes answer 503 GENEALOGY_DATABASE_UNAVAILABLE with Retry-After", async () => {
    const app = Fastify();
    registerGenealogyRoutes(app, { token: TOKEN, queries: () => undefined });
    const r = await app.inject({ url: `${lotUrl(LOTS.raw.lot)}/recall`, headers: auth });
    assert.equal(r.statusCode, 503);
    assert.equal(r.json().error.code, "GENEALOGY_DATABASE_UNAVAILABLE");
    assert.ok(Number(r.headers["retry-after"]) > 0);
  });

  test("a database that refuses connections answers 503, not 404 or 500: the lot may well exist", async () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const app = Fastify();
    registerGenealogyRoutes(app, { token: TOKEN, queries: () => failing(refused) });
    for (const url of [`${lotUrl(LOTS.raw.lot)}/trace?direction=forward`, "/genealogy/lots?prefix=L"]) {
      const r = await app.inject({ url, headers: auth });
      assert.equal(r.statusCode, 503, url);
      assert.equal(r.json().error.code, "GENEALOGY_DATABASE_UNAVAILABLE");
    }
  });
});

describe("genealogy HTTP - the OpenAPI document", () => {
  test("lists every route the manifest declares, with the parameters the schemas check and bearer security", async () => {
    const doc = (await server.app.inject({ url: "/genealogy/openapi.json" })).json();
    assert.equal(doc.openapi, "3.1.0");
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual(
      operations.sort(),
      GENEALOGY_ROUTES.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`).sort(),
    );
    const trace = doc.paths["/genealogy/lots/{lot}/trace"].get;
    const param = (name: string) => trace.parameters.find((p: { name: string }) => p.name === name);
    assert.deepEqual(param("lot").in, "path");
    assert.deepEqual(param("depth").schema, { type: "integer", minimum: 1, maximum: 50 });
    assert.deepEqual(param("direction").schema.enum, ["backward", "forward"]);
    assert.equal(param("direction").required, true);
    assert.deepEqual(trace.security, [{ bearer: [] }]);
    assert.deepEqual(doc.paths["/genealogy/openapi.json"].get.security, []);
  });
});
