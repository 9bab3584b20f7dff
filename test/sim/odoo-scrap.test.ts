/**
 * The simulator's stock.scrap (stock + mrp) on every profile: defaults (source location from the
 * order, the version's scrap location), `action_validate` → `do_scrap` (SP/ sequence, one done move
 * to the scrap location, date_done), refusals (zero quantity, a tracked product without a lot — the
 * whole call rolled back), a done scrap that cannot be deleted.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RawOdooClient } from "../../tools/sim/odoo/client.js";
import { PROFILE_VERSIONS } from "../../tools/sim/odoo/profiles.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";

type Auth = { db: string; uid: number; password: string };
type Row = Record<string, unknown>;

for (const profile of PROFILE_VERSIONS) {
  describe(`odoo simulator ${profile} - stock.scrap`, () => {
    let sim: OdooSimulator;
    let client: RawOdooClient;
    let auth: Auth;
    const call = <T = unknown>(model: string, method: string, args: unknown[] = [], kwargs: Row = {}) =>
      client.call<T>(auth, model, method, args, kwargs);
    const product = async (code: string) =>
      (
        (await call<number[]>("product.product", "search", [[["default_code", "=", code]]])) as number[]
      )[0] as number;
    const read = async (model: string, id: number, fields: string[]) =>
      ((await call<Row[]>(model, "read", [[id], fields])) as Row[])[0] as Row;
    const m2o = (v: unknown) => (Array.isArray(v) ? v[0] : v);

    before(async () => {
      sim = await startOdooSimulator({ profile, seed: 5 });
      client = new RawOdooClient(sim.url);
      auth = { db: sim.db, uid: sim.credentials.uid, password: sim.credentials.password };
    });
    after(() => sim.stop());

    test("create + action_validate on a done order's product: SP/ reference, done, one move to Virtual Locations/Scrap", async () => {
      const mo = await call<number>("mrp.production", "create", [
        { product_id: await product("FIN-SB20"), product_qty: 3 },
      ]);
      await call("mrp.production", "action_confirm", [[mo]]);
      await call("mrp.production", "write", [[mo], { qty_producing: 3 }]);
      await call("mrp.production", "button_mark_done", [[mo]]);

      const id = await call<number>("stock.scrap", "create", [
        {
          product_id: await product("FIN-SB20"),
          scrap_qty: 2,
          production_id: mo,
          x_threadline_event_id: "ev-1",
        },
      ]);
      const draft = await read("stock.scrap", id, [
        "name",
        "state",
        "location_id",
        "scrap_location_id",
        "date_done",
      ]);
      assert.equal(draft["name"], "New");
      assert.equal(draft["state"], "draft");
      assert.equal(draft["date_done"], false);
      const moRow = await read("mrp.production", mo, ["location_dest_id"]);
      assert.equal(
        m2o(draft["location_id"]),
        m2o(moRow["location_dest_id"]),
        "a done order: its finished products location",
      );
      assert.equal(m2o(draft["scrap_location_id"]), sim.env.ref("stock.stock_location_scrapped"));
      const scrapLoc = await read("stock.location", m2o(draft["scrap_location_id"]) as number, [
        "complete_name",
        "usage",
      ]);
      assert.deepEqual(
        [scrapLoc["complete_name"], scrapLoc["usage"]],
        ["Virtual Locations/Scrap", "inventory"],
      );
      const locFields = await call<Row>("stock.location", "fields_get", [], { attributes: ["type"] });
      assert.equal("scrap_location" in locFields, profile <= 18);

      assert.equal(await call("stock.scrap", "action_validate", [[id]]), true);
      const done = await read("stock.scrap", id, [
        "name",
        "state",
        "date_done",
        "move_ids",
        "x_threadline_event_id",
      ]);
      assert.match(String(done["name"]), /^SP\/\d{5}$/);
      assert.equal(done["state"], "done");
      assert.match(String(done["date_done"]), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.equal(done["x_threadline_event_id"], "ev-1");
      const moves = done["move_ids"] as number[];
      assert.equal(moves.length, 1);
      const move = await read("stock.move", moves[0] as number, [
        "state",
        "product_uom_qty",
        "location_dest_id",
      ]);
      assert.deepEqual(
        [move["state"], move["product_uom_qty"], m2o(move["location_dest_id"])],
        ["done", 2, sim.env.ref("stock.stock_location_scrapped")],
      );
      // the order's produced quantity is not changed by the scrap
      assert.equal((await read("mrp.production", mo, ["qty_produced"]))["qty_produced"], 3);

      const del = await client.executeKw(auth, "stock.scrap", "unlink", [[id]]);
      assert.equal(del.error?.data["name"], "odoo.exceptions.UserError");
      assert.equal(del.error?.data["message"], "You cannot delete a scrap which is done.");
    });

    test("a lot-tracked product without a lot is refused and nothing is written; with the lot it is scrapped", async () => {
      const cabinet = await product("FIN-CC100");
      const id = await call<number>("stock.scrap", "create", [{ product_id: cabinet, scrap_qty: 1 }]);
      const refused = await client.executeKw(auth, "stock.scrap", "action_validate", [[id]]);
      assert.equal(refused.error?.data["name"], "odoo.exceptions.UserError");
      assert.match(
        String(refused.error?.data["message"]),
        /^You need to supply a Lot\/Serial number for product:/,
      );
      const after = await read("stock.scrap", id, ["name", "state", "move_ids"]);
      assert.deepEqual([after["name"], after["state"], after["move_ids"]], ["New", "draft", []]);

      const lot = await call<number>("stock.lot", "create", [{ name: "CC-SCRAP-1", product_id: cabinet }]);
      await call("stock.scrap", "write", [[id], { lot_id: lot }]);
      assert.equal(await call("stock.scrap", "action_validate", [[id]]), true);
      assert.equal((await read("stock.scrap", id, ["state"]))["state"], "done");
    });

    test("a zero quantity is refused", async () => {
      const id = await call<number>("stock.scrap", "create", [
        { product_id: await product("FIN-SB20"), scrap_qty: 0 },
      ]);
      const zero = await client.executeKw(auth, "stock.scrap", "action_validate", [[id]]);
      assert.equal(zero.error?.data["name"], "odoo.exceptions.UserError");
      assert.equal(zero.error?.data["message"], "You can only enter positive quantities.");
      const missing = await client.executeKw(auth, "stock.scrap", "create", [{ scrap_qty: 1 }]);
      assert.equal(missing.error?.data["name"], "odoo.exceptions.ValidationError");
    });
  });
}
