/**
 * Seeded, plausible demo data: a warehouse with WH/Stock, WH/Quarantine, the virtual Production
 * location and partner locations; work centers and loss reasons; components and finished products
 * (some lot- or serial-tracked) with BoMs and operations; lots; about ten manufacturing orders in
 * every state with their work orders and moves; receipts and deliveries; quality teams, stages,
 * points, checks and an alert; users `admin` (password + API key) and a restricted `shopfloor`.
 * The same seed gives the same data (quantities and the mix of states are drawn from it).
 */

import { setMoveDoneQty } from "./models/stock.js";
import type { Database, Env, Vals } from "./orm.js";
import { randomInt, seededRandom } from "./prng.js";

export interface SeedUsers {
  admin: { login: string; password: string; apiKey: string };
  restricted: { login: string; password: string; apiKey: string };
}

function call(
  env: Env,
  model: string,
  method: string,
  ids: number[],
  kw: Record<string, unknown> = {},
): unknown {
  const spec = env.model(model).methods[method];
  if (!spec) throw new Error(`seed: ${model}.${method} is not defined`);
  return spec.fn({ env, model, ids, kw });
}

/** Fills an empty database; returns the ids of a few records tests like to find. */
export function seedDatabase(db: Database, seed: number, users: SeedUsers): void {
  const random = seededRandom(seed);
  db.transaction((tx) => {
    const env = db.superuserEnv(tx);
    const p = db.profile;
    const xml = (name: string, model: string, id: number) => {
      db.xmlIds.set(name, { model, id });
      return id;
    };

    // ------------------------------------------------------------ users and partners
    const company = env.create("res.partner", { name: "YourCompany", is_company: true });
    xml("base.main_partner", "res.partner", company);
    const bot = env.create("res.users", {
      name: "OdooBot",
      login: "__system__",
      active: false,
      share: false,
    });
    const admin = env.create("res.users", {
      name: "Mitchell Admin",
      login: users.admin.login,
      password: users.admin.password,
      partner_id: env.create("res.partner", { name: "Mitchell Admin", parent_id: company }),
    });
    const shop = env.create("res.users", {
      name: "Shop Floor Terminal",
      login: users.restricted.login,
      password: users.restricted.password,
      partner_id: env.create("res.partner", { name: "Shop Floor Terminal", parent_id: company }),
    });
    void bot;
    const adminUser = db.users.get(admin);
    if (adminUser) {
      adminUser.admin = true;
      adminUser.apiKeys.push(users.admin.apiKey);
    }
    db.users.get(shop)?.apiKeys.push(users.restricted.apiKey);
    xml("base.user_admin", "res.users", admin);
    const customers = ["Deco Addict", "Azure Interior", "Gemini Furniture", "Lumber Inc"].map((name) =>
      env.create("res.partner", { name, is_company: true }),
    );
    const vendor = env.create("res.partner", { name: "Wood Corner", is_company: true });

    // ------------------------------------------------------------ units, categories
    const uomVals = (name: string, cat: number | false, extra: Vals): Vals =>
      p.uomCategory ? { name, category_id: cat, ...extra } : { name };
    const unitCat = p.uomCategory ? env.create("uom.category", { name: "Unit" }) : false;
    const weightCat = p.uomCategory ? env.create("uom.category", { name: "Weight" }) : false;
    const units = xml(
      "uom.product_uom_unit",
      "uom.uom",
      env.create("uom.uom", uomVals("Units", unitCat, { uom_type: "reference" })),
    );
    env.create(
      "uom.uom",
      p.uomCategory
        ? uomVals("Dozens", unitCat, { uom_type: "bigger", factor: 1 / 12 })
        : { name: "Dozens", relative_factor: 12, relative_uom_id: units },
    );
    const kg = env.create("uom.uom", uomVals("kg", weightCat, { uom_type: "reference" }));
    const categAll = env.create("product.category", { name: "All" });
    const categComp = env.create("product.category", { name: "Components", parent_id: categAll });
    const categFin = env.create("product.category", { name: "Finished Goods", parent_id: categAll });
    env.create("product.category", { name: "Fasteners", parent_id: categComp });

    // ------------------------------------------------------------ locations, warehouse, operation types
    const loc = (name: string, parent: number | false, usage: string, extra: Vals = {}) =>
      env.create("stock.location", { name, location_id: parent, usage, ...extra });
    const physical = loc("Physical Locations", false, "view");
    const partnerLocs = loc("Partner Locations", false, "view");
    const virtual = loc("Virtual Locations", false, "view");
    const whView = loc("WH", physical, "view");
    const stock = xml(
      "stock.stock_location_stock",
      "stock.location",
      loc("Stock", whView, "internal", { replenish_location: true }),
    );
    loc("Shelf 1", stock, "internal");
    loc("Shelf 2", stock, "internal");
    const quarantine = xml(
      "threadline.location_quarantine",
      "stock.location",
      loc("Quarantine", whView, "internal"),
    );
    const suppliers = xml(
      "stock.stock_location_suppliers",
      "stock.location",
      loc("Vendors", partnerLocs, "supplier"),
    );
    const customersLoc = xml(
      "stock.stock_location_customers",
      "stock.location",
      loc("Customers", partnerLocs, "customer"),
    );
    xml("stock.location_production", "stock.location", loc("Production", virtual, "production"));
    loc("Inventory adjustment", virtual, "inventory");
    // stock_data.xml `stock_location_scrapped` (Virtual Locations/Scrap): stock.scrap's default target.
    xml(
      "stock.stock_location_scrapped",
      "stock.location",
      loc("Scrap", virtual, "inventory", p.version <= 18 ? { scrap_location: true } : {}),
    );
    const wh = env.create("stock.warehouse", {
      name: "YourCompany",
      code: "WH",
      view_location_id: whView,
      lot_stock_id: stock,
    });
    const ptype = (name: string, code: string, seq: string, src: number, dst: number, sequence: number) =>
      env.create("stock.picking.type", {
        name,
        code,
        sequence_code: seq,
        warehouse_id: wh,
        default_location_src_id: src,
        default_location_dest_id: dst,
        sequence,
      });
    const receipts = xml(
      "stock.picking_type_in",
      "stock.picking.type",
      ptype("Receipts", "incoming", "IN", suppliers, stock, 1),
    );
    const deliveries = xml(
      "stock.picking_type_out",
      "stock.picking.type",
      ptype("Delivery Orders", "outgoing", "OUT", stock, customersLoc, 2),
    );
    xml(
      "stock.picking_type_internal",
      "stock.picking.type",
      ptype("Internal Transfers", "internal", "INT", stock, quarantine, 3),
    );
    xml(
      "mrp.picking_type_manufacturing",
      "stock.picking.type",
      ptype("Manufacturing", "mrp_operation", "MO", stock, stock, 4),
    );

    // ------------------------------------------------------------ work centers and losses
    const wc = (name: string, code: string) =>
      env.create("mrp.workcenter", { name, code, costs_hour: randomInt(random, 30, 90) });
    const assembly = wc("Assembly Line 1", "ASM1");
    const cnc = wc("CNC Mill", "CNC");
    const packing = wc("Packing Station", "PACK");
    const paint = wc("Paint Booth", "PNT");
    const loss = (name: string, loss_type: string, manual: boolean, sequence: number) =>
      env.create("mrp.workcenter.productivity.loss", { name, loss_type, manual, sequence });
    loss("Material Availability", "availability", true, 1);
    loss("Equipment Failure", "availability", true, 2);
    loss("Setup and Adjustments", "availability", true, 3);
    loss("Reduced Speed", "performance", false, 4);
    loss("Reduced Yield", "quality", false, 5);
    loss("Productive Time", "productive", false, 6);

    // ------------------------------------------------------------ products and BoMs
    const storable: Vals = p.isStorable
      ? { type: "consu", is_storable: true }
      : { type: "product", detailed_type: "product" };
    const product = (code: string, name: string, tracking: string, categ: number, uom = units) =>
      env.create("product.product", {
        default_code: code,
        name,
        tracking,
        categ_id: categ,
        uom_id: uom,
        ...storable,
      });
    const steel = product("COMP-STL", "Steel Sheet 2mm", "lot", categComp);
    const alu = product("COMP-ALU", "Aluminium Profile 40x40", "none", categComp);
    const screw = product("COMP-SCR", "M6 Screw", "none", categComp);
    const board = product("COMP-PCB", "Control Board", "lot", categComp);
    const paintP = product("COMP-PNT", "Enclosure Paint RAL7035", "lot", categComp, kg);
    const cabinet = product("FIN-CC100", "Control Cabinet CC-100", "lot", categFin);
    const bracket = product("FIN-SB20", "Sensor Bracket SB-20", "none", categFin);
    const housing = product("FIN-PH5", "Pump Housing PH-5", "serial", categFin);
    const tmplOf = (prod: number) => env.get("product.product", prod, "product_tmpl_id");
    const bom = (
      prod: number,
      code: string,
      lines: [number, number][],
      ops: [string, number, number][],
      consumption = "flexible",
    ) => {
      const id = env.create("mrp.bom", {
        product_tmpl_id: tmplOf(prod),
        product_qty: 1,
        product_uom_id: units,
        code,
        consumption,
      });
      for (const [i, [name, center, minutes]] of ops.entries()) {
        env.create("mrp.routing.workcenter", {
          name,
          workcenter_id: center,
          bom_id: id,
          sequence: (i + 1) * 10,
          time_cycle_manual: minutes,
        });
      }
      for (const [comp, qty] of lines)
        env.create("mrp.bom.line", { bom_id: id, product_id: comp, product_qty: qty });
      return id;
    };
    bom(
      cabinet,
      "CC100",
      [
        [steel, 4],
        [alu, 6],
        [screw, 24],
        [board, 1],
        [paintP, 0.5],
      ],
      [
        ["Cutting", cnc, 12],
        ["Assembly", assembly, 30],
        ["Painting", paint, 15],
        ["Packing", packing, 5],
      ],
    );
    bom(
      bracket,
      "SB20",
      [
        [steel, 1],
        [screw, 4],
      ],
      [
        ["Milling", cnc, 4],
        ["Packing", packing, 1],
      ],
      "warning",
    );
    bom(
      housing,
      "PH5",
      [
        [alu, 2],
        [screw, 8],
        [paintP, 0.2],
      ],
      [
        ["Machining", cnc, 20],
        ["Assembly", assembly, 10],
      ],
    );

    for (const [prod, name] of [
      [steel, "STL-2401"],
      [steel, "STL-2402"],
      [board, "PCB-1001"],
      [paintP, "PNT-0001"],
      [cabinet, "CC-2024-0001"],
    ] as const) {
      env.create("stock.lot", { name, product_id: prod });
    }

    // ------------------------------------------------------------ manufacturing orders in every state
    const planned = (days: number) => {
      const d = new Date(tx.now.getTime() + days * 86_400_000);
      return d.toISOString().slice(0, 10) + " 06:00:00";
    };
    const makeMo = (prod: number, qty: number, days: number, origin: string) =>
      env.create("mrp.production", {
        product_id: prod,
        product_qty: qty,
        origin,
        [p.mrpPlannedStart]: planned(days),
      });
    const lotFor = (prod: number, name: string) => env.create("stock.lot", { name, product_id: prod });
    const setLot = (mo: number, lot: number) =>
      env.write(
        "mrp.production",
        [mo],
        p.lotProducingMany ? { lot_producing_ids: [[4, lot]] } : { lot_producing_id: lot },
      );
    const wos = (mo: number) => env.get("mrp.production", mo, "workorder_ids") as number[];

    makeMo(bracket, randomInt(random, 20, 60), 5, "SO-0042"); // draft
    makeMo(cabinet, 2, 7, "SO-0043"); // draft
    for (const [prod, qty, days] of [
      [bracket, randomInt(random, 10, 40), 1],
      [cabinet, 3, 2],
      [housing, 1, 3],
    ] as const) {
      const mo = makeMo(prod, qty, days, `SO-00${44 + days}`);
      call(env, "mrp.production", "action_confirm", [mo]);
    }
    const running = makeMo(cabinet, 5, 0, "SO-0050");
    call(env, "mrp.production", "action_confirm", [running]);
    setLot(running, lotFor(cabinet, "CC-2024-0002"));
    call(env, "mrp.workorder", "button_start", [wos(running)[0] as number]);
    const half = makeMo(bracket, 40, 0, "SO-0051");
    call(env, "mrp.production", "action_confirm", [half]);
    env.write("mrp.production", [half], { qty_producing: 20 });
    const closing = makeMo(bracket, 12, -1, "SO-0052");
    call(env, "mrp.production", "action_confirm", [closing]);
    for (const w of wos(closing)) {
      call(env, "mrp.workorder", "button_start", [w]);
      call(env, "mrp.workorder", "button_finish", [w]);
    }
    const done = makeMo(bracket, 25, -2, "SO-0040");
    call(env, "mrp.production", "action_confirm", [done]);
    env.write("mrp.production", [done], { qty_producing: 25 });
    call(
      env.withContext({ skip_immediate: true, skip_consumption: true }),
      "mrp.production",
      "button_mark_done",
      [done],
    );
    const cancelled = makeMo(housing, 2, 4, "SO-0041");
    call(env, "mrp.production", "action_confirm", [cancelled]);
    call(env, "mrp.production", "action_cancel", [cancelled]);

    // ------------------------------------------------------------ pickings
    const moveVals = (prod: number, qty: number, src: number, dst: number): Vals => ({
      ...(p.stockMoveName ? { name: env.displayName("product.product", prod) } : {}),
      product_id: prod,
      product_uom_qty: qty,
      location_id: src,
      location_dest_id: dst,
    });
    const receipt = env.create("stock.picking", {
      picking_type_id: receipts,
      partner_id: vendor,
      origin: "PO-0007",
      move_ids: [
        [0, 0, moveVals(alu, 120, suppliers, stock)],
        [0, 0, moveVals(screw, 1000, suppliers, stock)],
      ],
    });
    call(env, "stock.picking", "action_confirm", [receipt]);
    const receivedDone = env.create("stock.picking", {
      picking_type_id: receipts,
      partner_id: vendor,
      origin: "PO-0006",
      move_ids: [[0, 0, moveVals(alu, 50, suppliers, stock)]],
    });
    call(env, "stock.picking", "action_assign", [receivedDone]);
    for (const m of env.get("stock.picking", receivedDone, "move_ids") as number[])
      setMoveDoneQty(env, m, env.get("stock.move", m, "product_uom_qty") as number);
    call(env, "stock.picking", "button_validate", [receivedDone]);
    const delivery = env.create("stock.picking", {
      picking_type_id: deliveries,
      partner_id: customers[0],
      origin: "SO-0040",
      move_ids: [[0, 0, moveVals(bracket, 25, stock, customersLoc)]],
    });
    call(env, "stock.picking", "action_confirm", [delivery]);
    env.create("stock.picking", {
      picking_type_id: deliveries,
      partner_id: customers[1],
      origin: "SO-0053",
      move_ids: [[0, 0, moveVals(cabinet, 1, stock, customersLoc)]],
    });

    // ------------------------------------------------------------ quality
    const team = env.create("quality.alert.team", { name: "Main Quality Team" });
    for (const [i, name] of ["New", "Confirmed", "Action Proposed", "Solved"].entries())
      env.create("quality.alert.stage", { name, sequence: i, done: name === "Solved" });
    const point = env.create("quality.point", {
      title: "Cabinet door gap",
      team_id: team,
      product_ids: [cabinet],
      test_type: "measure",
      norm: 2,
      tolerance_min: 1.5,
      tolerance_max: 2.5,
    });
    env.create("quality.check", {
      point_id: point,
      team_id: team,
      product_id: cabinet,
      production_id: running,
      test_type: "measure",
    });
    env.create("quality.alert", {
      title: "Scratches on steel sheets",
      team_id: team,
      product_id: steel,
      lot_id: env.search("stock.lot", [["name", "=", "STL-2401"]])[0] ?? false,
      workcenter_id: cnc,
      priority: "2",
    });
  });
}
