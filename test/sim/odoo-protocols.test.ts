import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RawOdooClient } from "../../tools/sim/odoo/client.js";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { parseMethodResponse } from "../../tools/sim/odoo/protocol/xmlrpc-codec.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - protocols`, () => {
    let sim: OdooSimulator;
    let client: RawOdooClient;
    let auth: { db: string; uid: number; password: string };

    before(async () => {
      sim = await startOdooSimulator({ profile, seed: 3 });
      client = new RawOdooClient(sim.url);
      auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
    });
    after(() => sim.stop());

    test("common.version reports the version with server_serie and protocol_version 1", async () => {
      const { status, body } = await client.jsonrpc("common", "version", []);
      assert.equal(status, 200);
      assert.deepEqual(body.result, {
        server_version: `${profile}.0`,
        server_version_info: [profile, 0, 0, "final", 0, ""],
        server_serie: `${profile}.0`,
        protocol_version: 1,
      });
    });

    test("login returns the uid, false on a bad password, and accepts the API key as password", async () => {
      const { login, password, apiKey, uid } = sim.credentials;
      assert.equal((await client.jsonrpc("common", "login", [sim.db, login, password])).body.result, uid);
      assert.equal((await client.jsonrpc("common", "login", [sim.db, login, "wrong"])).body.result, false);
      assert.equal(
        (await client.jsonrpc("common", "authenticate", [sim.db, login, apiKey, {}])).body.result,
        uid,
      );
    });

    test("execute_kw with a bad password is AccessDenied in the JSON-RPC error envelope", async () => {
      const env = await client.executeKw({ ...auth, password: "nope" }, "res.partner", "search", [[]]);
      assert.equal(env.result, undefined);
      assert.equal(env.error?.code, profile >= 19 ? 0 : 200);
      assert.equal(env.error?.message, "Odoo Server Error");
      assert.equal(env.error?.data["name"], "odoo.exceptions.AccessDenied");
      assert.equal(env.error?.data["message"], "Access Denied");
      assert.deepEqual(env.error?.data["arguments"], ["Access Denied"]);
      assert.deepEqual(env.error?.data["context"], {});
      const keys = Object.keys(env.error?.data ?? {});
      assert.deepEqual(
        keys,
        profile >= 18
          ? ["name", "message", "arguments", "context", "debug"]
          : ["name", "debug", "message", "arguments", "context"],
      );
    });

    test("create answers an id for a dict, ids for a list; values passed by name fail as call_kw does (IndexError), writing nothing", async () => {
      const one = await client.executeKw(auth, "res.partner", "create", [{ name: "One" }]);
      assert.equal(typeof one.result, "number");
      const many = await client.executeKw(auth, "res.partner", "create", [
        [{ name: "Two" }, { name: "Three" }],
      ]);
      assert.equal((many.result as number[]).length, 2);
      const named = await client.executeKw(auth, "res.partner", "create", [], {
        vals_list: { name: "Named" },
      });
      assert.equal(named.error?.data["name"], "builtins.IndexError");
      const found = await client.executeKw(auth, "res.partner", "search_count", [[["name", "=", "Named"]]]);
      assert.equal(found.result, 0);
    });

    test('an unknown model is UserError "Object x doesn\'t exist"', async () => {
      const env = await client.executeKw(auth, "no.such.model", "search", [[]]);
      assert.equal(env.error?.data["name"], "odoo.exceptions.UserError");
      assert.equal(env.error?.data["message"], "Object no.such.model doesn't exist");
    });

    test("execute and execute_kw run the same call; a None result leaves result out of the envelope", async () => {
      const viaExecute = await client.jsonrpc("object", "execute", [
        auth.db,
        auth.uid,
        auth.password,
        "res.partner",
        "search_count",
        [["is_company", "=", true]],
      ]);
      const viaKw = await client.call(auth, "res.partner", "search_count", [[["is_company", "=", true]]]);
      assert.equal(viaExecute.body.result, viaKw);
      const [mo] = await sim.env.search(
        "mrp.production",
        [
          ["state", "=", "confirmed"],
          ["product_id.tracking", "=", "lot"],
        ],
        { limit: 1 },
      );
      assert.ok(mo);
      const env = await client.executeKw(auth, "mrp.production", "action_generate_serial", [[mo]]);
      assert.equal(env.error, undefined);
      assert.equal("result" in env, false);
    });

    test("XML-RPC: happy path, integer fault codes per exception class, None cannot be marshalled", async () => {
      const { login, password, uid } = sim.credentials;
      const ok = await client.xmlrpc("/xmlrpc/2/common", "login", [sim.db, login, password]);
      assert.deepEqual(ok.parsed, { value: uid });
      const bad = await client.xmlrpc("/xmlrpc/2/common", "login", [sim.db, login, "x"]);
      assert.deepEqual(bad.parsed, { value: false });
      const fault = async (args: unknown[]) => {
        const r = await client.xmlrpc("/xmlrpc/2/object", "execute_kw", args);
        assert.equal(r.status, 200);
        assert.ok("fault" in r.parsed, r.text);
        return r.parsed.fault;
      };
      const denied = await fault([sim.db, uid, "bad", "res.partner", "search", [[]]]);
      assert.deepEqual(denied, { faultCode: 3, faultString: "Access Denied" });
      const user = await fault([sim.db, uid, password, "nope.model", "search", [[]]]);
      assert.deepEqual(user, { faultCode: 2, faultString: "Object nope.model doesn't exist" });
      const r = sim.restricted;
      const access = await fault([sim.db, r.uid, r.password, "mrp.workorder", "search", [[]]]);
      assert.equal(access.faultCode, 4);
      assert.match(
        String(access.faultString),
        /^You are not allowed to access 'Work Order' \(mrp\.workorder\) records\./,
      );
      const value = await fault([sim.db, uid, password, "res.partner", "search", [[["nope", "=", 1]]]]);
      assert.equal(value.faultCode, 1);
      assert.match(
        String(value.faultString),
        /^Traceback \(most recent call last\):\n[\s\S]*\nValueError: Invalid field/,
      );
      // a new order without a lot (19 refuses a second lot: "You cannot set more than 1 lot per product")
      const [jar] = await sim.env.search("product.product", [["default_code", "=", "FIN-HJ250"]]);
      const mo = await sim.env.create("mrp.production", { product_id: jar, product_qty: 1 });
      const none = await fault([sim.db, uid, password, "mrp.production", "action_generate_serial", [[mo]]]);
      assert.equal(none.faultCode, 1);
      assert.match(String(none.faultString), /TypeError: cannot marshal None unless allow_none is enabled/);
      // committed before marshalling failed, as in Odoo
      const field = profile >= 19 ? "lot_producing_ids" : "lot_producing_id";
      const [row] = await sim.env.read("mrp.production", [mo as number], [field]);
      assert.notEqual(row?.[field], false);
      assert.notDeepEqual(row?.[field], []);
    });

    test("XML-RPC accepts <nil/> in requests and the legacy /xmlrpc/ route uses string fault codes", async () => {
      const { uid, password } = sim.credentials;
      const withNil = await client.xmlrpc("/xmlrpc/2/object", "execute_kw", [
        sim.db,
        uid,
        password,
        "res.partner",
        "search_read",
        [[["is_company", "=", true]]],
        { fields: ["name"], limit: null },
      ]);
      assert.ok(
        "value" in withNil.parsed && Array.isArray(withNil.parsed.value) && withNil.parsed.value.length > 0,
      );
      const legacy = await client.xmlrpc("/xmlrpc/object", "execute_kw", [
        sim.db,
        uid,
        "bad",
        "res.partner",
        "search",
        [[]],
      ]);
      assert.deepEqual(legacy.parsed, { fault: { faultCode: "AccessDenied", faultString: "Access Denied" } });
      const legacyUser = await client.xmlrpc("/xmlrpc/object", "execute_kw", [
        sim.db,
        uid,
        password,
        "x.y",
        "search",
        [[]],
      ]);
      assert.deepEqual(legacyUser.parsed, {
        fault: { faultCode: "warning -- UserError\n\nObject x.y doesn't exist", faultString: "" },
      });
    });

    test("malformed XML is an application fault, not an HTTP error", async () => {
      const res = await fetch(`${sim.url}/xmlrpc/2/common`, {
        method: "POST",
        body: "<methodCall><methodName>version</methodName>",
      });
      assert.equal(res.status, 200);
      const parsed = parseMethodResponse(await res.text());
      assert.ok("fault" in parsed);
      assert.equal(parsed.fault.faultCode, 1);
      assert.match(String(parsed.fault.faultString), /ExpatError: no element found/);
    });

    test("invalid JSON on /jsonrpc is a plain HTTP 400", async () => {
      const res = await fetch(`${sim.url}/jsonrpc`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{",
      });
      assert.equal(res.status, 400);
      assert.equal(await res.text(), "Invalid JSON data");
    });

    test("web session: authenticate sets a cookie, call_kw uses it, no session is code 100", async () => {
      const auth = await fetch(`${sim.url}/web/session/authenticate`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          params: { db: sim.db, login: "admin", password: sim.credentials.password },
        }),
      });
      const cookie = auth.headers.get("set-cookie")?.split(";")[0] ?? "";
      assert.match(cookie, /^session_id=[0-9a-f]{40}$/);
      const callKw = (headers: Record<string, string>) =>
        fetch(`${sim.url}/web/dataset/call_kw/res.partner/search_count`, {
          method: "POST",
          headers: { "Content-Type": "application/json", ...headers },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            params: { model: "res.partner", method: "search_count", args: [[]], kwargs: {} },
          }),
        }).then(
          (r) =>
            r.json() as Promise<{
              result?: number;
              error?: { code: number; message: string; data: { name: string } };
            }>,
        );
      assert.equal(typeof (await callKw({ Cookie: cookie })).result, "number");
      const expired = await callKw({});
      assert.equal(expired.error?.code, 100);
      assert.equal(expired.error?.message, "Odoo Session Expired");
      assert.equal(expired.error?.data.name, "odoo.http.SessionExpiredException");
    });

    if (profile >= 19) {
      test("JSON-2: bare JSON results with named arguments, ids and context", async () => {
        const { apiKey } = sim.credentials;
        const search = await client.json2(
          "res.partner",
          "search",
          { domain: [["is_company", "=", true]], limit: 2 },
          { apiKey, db: sim.db },
        );
        assert.equal(search.status, 200);
        assert.ok(Array.isArray(search.body) && search.body.length === 2);
        const ids = search.body as number[];
        const read = await client.json2(
          "res.partner",
          "read",
          { ids, fields: ["name"], context: { lang: "en_US" } },
          { apiKey },
        );
        assert.equal(read.status, 200);
        assert.deepEqual(Object.keys((read.body as object[])[0] ?? {}), ["id", "name"]);
        const created = await client.json2(
          "res.partner",
          "create",
          { vals_list: [{ name: "A" }, { name: "B" }] },
          { apiKey },
        );
        assert.equal(created.status, 200);
        assert.equal((created.body as number[]).length, 2);
        // Records come back as ids: one dict created still answers a list.
        const one = await client.json2("res.partner", "create", { vals_list: { name: "C" } }, { apiKey });
        assert.equal(one.status, 200);
        assert.ok(Array.isArray(one.body) && one.body.length === 1, JSON.stringify(one.body));
        const ctx = await client.json2("res.users", "context_get", {}, { apiKey });
        assert.equal((ctx.body as { uid: number }).uid, sim.credentials.uid);
      });

      test("JSON-2: errors map to HTTP statuses with serialize_exception bodies", async () => {
        const { apiKey } = sim.credentials;
        const unauthorized = await client.json2(
          "res.partner",
          "search",
          { domain: [] },
          { apiKey: "not-a-key" },
        );
        assert.equal(unauthorized.status, 401);
        assert.equal(unauthorized.headers.get("www-authenticate"), "Bearer");
        const body = unauthorized.body as Record<string, unknown>;
        assert.equal(body["name"], "werkzeug.exceptions.Unauthorized");
        assert.equal(body["message"], "Invalid apikey");
        assert.deepEqual(body["arguments"], ["Invalid apikey", 401]);
        assert.deepEqual(Object.keys(body), ["name", "message", "arguments", "context", "debug"]);
        const status = async (model: string, method: string, b: Record<string, unknown>, key = apiKey) => {
          const r = await client.json2(model, method, b, { apiKey: key });
          return [
            r.status,
            (r.body as Record<string, unknown>)["name"],
            (r.body as Record<string, unknown>)["message"],
          ];
        };
        assert.deepEqual(await status("no.model", "search", {}), [
          404,
          "werkzeug.exceptions.NotFound",
          "the model 'no.model' does not exist",
        ]);
        assert.deepEqual(await status("res.partner", "nope", {}), [
          404,
          "werkzeug.exceptions.NotFound",
          "The method 'res.partner.nope' does not exist",
        ]);
        assert.deepEqual(await status("res.partner", "search", { ids: [1], domain: [] }), [
          422,
          "werkzeug.exceptions.UnprocessableEntity",
          "cannot call res.partner.search with ids",
        ]);
        assert.deepEqual(await status("res.partner", "search", { domain: [], badparameter: 1 }), [
          422,
          "werkzeug.exceptions.UnprocessableEntity",
          "got an unexpected keyword argument 'badparameter'",
        ]);
        assert.deepEqual(await status("res.partner", "write", { ids: [999999], vals: { name: "x" } }), [
          404,
          "odoo.exceptions.MissingError",
          `Record does not exist or has been deleted.\n(Record: res.partner(999999,), User: ${sim.credentials.uid})`,
        ]);
        assert.deepEqual(
          (await status("mrp.production", "create", { vals_list: { product_qty: 1 } })).slice(0, 2),
          [422, "odoo.exceptions.ValidationError"],
        );
        assert.deepEqual(
          (await status("mrp.workorder", "search", { domain: [] }, sim.restricted.apiKey)).slice(0, 2),
          [403, "odoo.exceptions.AccessError"],
        );
        assert.deepEqual(
          (await status("res.partner", "search", { domain: [["nope", "=", 1]] })).slice(0, 2),
          [500, "builtins.ValueError"],
        );
        const wrongDb = await client.json2("res.partner", "search", { domain: [] }, { apiKey, db: "other" });
        assert.equal(wrongDb.status, 404);
      });

      test("GET /web/version answers the version without authentication", async () => {
        const res = await fetch(`${sim.url}/web/version`);
        assert.deepEqual(await res.json(), { version_info: [19, 0, 0, "final", 0, ""], version: "19.0" });
      });
    } else {
      test("JSON-2 does not exist before 19 (404 page)", async () => {
        const res = await fetch(`${sim.url}/json/2/res.partner/search`, {
          method: "POST",
          headers: { Authorization: `bearer ${sim.credentials.apiKey}`, "Content-Type": "application/json" },
          body: "{}",
        });
        assert.equal(res.status, 404);
        assert.match(res.headers.get("content-type") ?? "", /text\/html/);
      });
    }
  });
}
