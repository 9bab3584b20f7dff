/**
 * Seeded, plausible demo data: the registry reflected in `ir.model`/`ir.model.fields`, groups and access
 * rights, a company and its warehouse (WH/Stock, WH/Quarantine, the virtual Production, Inventory
 * adjustment and Scrap locations), operation types, work centres (the generic ones and one per machine
 * of the demo plant's two lines), loss reasons with Odoo's xml ids, components with initial stock
 * (inventory adjustments, some in lots) and finished products (lot- and serial-tracked among them)
 * with BoMs in each consumption mode, about ten manufacturing orders in every state, receipts and
 * deliveries; with Enterprise quality, teams, stages, points, a check and an alert. Users: `admin`
 * (Settings and the managers' groups), the integration user (exactly Manufacturing / User) and the
 * restricted `shopfloor` (Inventory / User).
 *
 * No custom field or model exists at start: a connector creates the ones it needs through
 * `ir.model` / `ir.model.fields` (as `base.group_erp_manager`).
 * The same seed gives the same data (quantities and the mix of states are drawn from it).
 */

import { seedAccess } from "./models/access.js";
import { reflectRegistry } from "./models/ir-model.js";
import { markDone } from "./models/mrp-mark-done.js";
import { cancelProductions, confirm, setQtyProducing } from "./models/mrp-production.js";
import { finishWorkorders, startWorkorders } from "./models/mrp-workorder.js";
import { actionDone, setQuantityDone } from "./models/stock-move.js";
import type { Database, Env, Vals } from "./orm.js";
import { randomInt, seededRandom } from "./prng.js";

export interface SeedCredentials {
  login: string;
  password: string;
  apiKey: string;
}

export interface SeedUsers {
  admin: SeedCredentials;
  integration: SeedCredentials;
  restricted: SeedCredentials;
}

export interface SeedOptions {
  seed: number;
  users: SeedUsers;
  quality: boolean;
  /**
   * Initial on-hand quantity per product code, instead of the seeded one (a lot-tracked product gets
   * it all in its first lot), e.g. `{ "COMP-HNY": 100 }` runs a honey-jar order short of honey.
   * @default {}
   */
  onHand?: Readonly<Record<string, number>>;
}

/** The work centres of the demo plant's machines (tools/sim/plant/demo-plant.ts), one per machine. */
export const LINE_WORKCENTERS = [
  { code: "L1-FILL", name: "Line 1 Filler", machine: "filler-1", xmlId: "threadline.workcenter_l1_fill" },
  { code: "L1-CAP", name: "Line 1 Capper", machine: "capper-1", xmlId: "threadline.workcenter_l1_cap" },
  { code: "L1-LAB", name: "Line 1 Labeler", machine: "labeler-1", xmlId: "threadline.workcenter_l1_lab" },
  { code: "L2-MIX", name: "Line 2 Mixer", machine: "mixer-2", xmlId: "threadline.workcenter_l2_mix" },
  { code: "L2-OVEN", name: "Line 2 Oven", machine: "oven-2", xmlId: "threadline.workcenter_l2_oven" },
  { code: "L2-PACK", name: "Line 2 Packer", machine: "packer-2", xmlId: "threadline.workcenter_l2_pack" },
] as const;

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

/** Fills an empty database. */
export function seedDatabase(db: Database, opts: SeedOptions): void {
  const random = seededRandom(opts.seed);
  const { users, quality } = opts;
  db.transaction((tx) => {
    const env = db.superuserEnv(tx);
    const p = db.profile;
    const xml = (name: string, model: string, id: number) => {
      db.xmlIds.set(name, { model, id });
      return id;
    };
    const ref = (name: string) => (db.xmlIds.get(name) as { id: number }).id;

    // ------------------------------------------------------------ registry, groups, access rights
    reflectRegistry(env, db);
    seedAccess(env, quality);

    // ------------------------------------------------------------ company, users
    const companyPartner = xml(
      "base.main_partner",
      "res.partner",
      env.create("res.partner", { name: "YourCompany", is_company: true }),
    );
    xml(
      "base.main_company",
      "res.company",
      env.create("res.company", { name: "YourCompany", partner_id: companyPartner }),
    );
    const groupsField = p.version >= 19 ? "group_ids" : "groups_id";
    const user = (name: string, cred: SeedCredentials | undefined, groups: string[], login?: string) => {
      const id = env.create("res.users", {
        name,
        login: cred?.login ?? login,
        ...(cred ? { password: cred.password } : { active: false }),
        partner_id: env.create("res.partner", { name, parent_id: companyPartner }),
        [groupsField]: groups.map(ref),
      });
      if (cred) db.users.get(id)?.apiKeys.push(cred.apiKey);
      return id;
    };
    xml("base.user_root", "res.users", user("OdooBot", undefined, ["base.group_system"], "__system__"));
    xml(
      "base.user_admin",
      "res.users",
      user("Mitchell Admin", users.admin, [
        "base.group_system",
        "base.group_partner_manager",
        "stock.group_stock_manager",
        "mrp.group_mrp_manager",
        ...(quality ? ["quality.group_quality_manager"] : []),
      ]),
    );
    xml(
      "threadline.user_integration",
      "res.users",
      user("Threadline Integration", users.integration, ["mrp.group_mrp_user"]),
    );
    xml(
      "threadline.user_shopfloor",
      "res.users",
      user("Shop Floor Terminal", users.restricted, ["stock.group_stock_user"]),
    );
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
    const kg = xml(
      "uom.product_uom_kgm",
      "uom.uom",
      env.create("uom.uom", uomVals("kg", weightCat, { uom_type: "reference" })),
    );
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
    // stock_data.xml: the inventory-loss location is created before Scrap (19's default scrap location)
    const inventoryLoss = xml(
      "stock.location_inventory",
      "stock.location",
      loc("Inventory adjustment", virtual, "inventory"),
    );
    xml(
      "stock.stock_location_scrapped",
      "stock.location",
      loc("Scrap", virtual, "inventory", p.version <= 18 ? { scrap_location: true } : {}),
    );
    const wh = xml(
      "stock.warehouse0",
      "stock.warehouse",
      env.create("stock.warehouse", {
        name: "YourCompany",
        code: "WH",
        view_location_id: whView,
        lot_stock_id: stock,
      }),
    );
    const ptype = (
      name: string,
      code: string,
      seq: string,
      src: number,
      dst: number,
      sequence: number,
      extra: Vals,
    ) =>
      env.create("stock.picking.type", {
        name,
        code,
        sequence_code: seq,
        warehouse_id: wh,
        default_location_src_id: src,
        default_location_dest_id: dst,
        sequence,
        ...extra,
      });
    // stock_warehouse.py `_get_picking_type_create_values`: lots created on receipts and manufacturing
    const receipts = xml(
      "stock.picking_type_in",
      "stock.picking.type",
      ptype("Receipts", "incoming", "IN", suppliers, stock, 1, {
        use_create_lots: true,
        use_existing_lots: true,
      }),
    );
    const deliveries = xml(
      "stock.picking_type_out",
      "stock.picking.type",
      ptype("Delivery Orders", "outgoing", "OUT", stock, customersLoc, 2, {
        use_create_lots: false,
        use_existing_lots: true,
      }),
    );
    xml(
      "stock.picking_type_internal",
      "stock.picking.type",
      ptype("Internal Transfers", "internal", "INT", stock, quarantine, 3, {
        use_create_lots: false,
        use_existing_lots: true,
      }),
    );
    xml(
      "mrp.picking_type_manufacturing",
      "stock.picking.type",
      ptype("Manufacturing", "mrp_operation", "MO", stock, stock, 4, {
        use_create_lots: true,
        use_existing_lots: true,
        create_backorder: "ask",
      }),
    );

    // ------------------------------------------------------------ work centers and losses
    const wc = (name: string, code: string) =>
      env.create("mrp.workcenter", { name, code, costs_hour: randomInt(random, 30, 90) });
    const assembly = wc("Assembly Line 1", "ASM1");
    const cnc = wc("CNC Mill", "CNC");
    const packing = wc("Packing Station", "PACK");
    const paint = wc("Paint Booth", "PNT");
    const lineWc = new Map<string, number>();
    for (const w of LINE_WORKCENTERS) lineWc.set(w.code, xml(w.xmlId, "mrp.workcenter", wc(w.name, w.code)));
    // mrp/data/mrp_data.xml: categories and the reasons (there is no block_reason3)
    const category = (xmlId: string, lossType: string) =>
      xml(
        xmlId,
        "mrp.workcenter.productivity.loss.type",
        env.create("mrp.workcenter.productivity.loss.type", { loss_type: lossType }),
      );
    const categories = {
      availability: category("mrp.category_availability", "availability"),
      performance: category("mrp.category_performance", "performance"),
      quality: category("mrp.category_quality", "quality"),
      productive: category("mrp.category_productive", "productive"),
    };
    for (const [xmlId, name, cat, sequence, manual] of [
      ["mrp.block_reason0", "Material Availability", "availability", 1, true],
      ["mrp.block_reason1", "Equipment Failure", "availability", 2, true],
      ["mrp.block_reason2", "Setup and Adjustments", "availability", 3, true],
      ["mrp.block_reason4", "Reduced Speed", "performance", 5, false],
      ["mrp.block_reason5", "Process Defect", "quality", 6, true],
      ["mrp.block_reason6", "Reduced Yield", "quality", 7, true],
      ["mrp.block_reason7", "Fully Productive Time", "productive", 0, false],
    ] as const)
      xml(
        xmlId,
        "mrp.workcenter.productivity.loss",
        env.create("mrp.workcenter.productivity.loss", { name, loss_id: categories[cat], sequence, manual }),
      );

    // ------------------------------------------------------------ products and BoMs
    const storable: Vals = p.isStorable
      ? { type: "consu", is_storable: true }
      : { type: "product", detailed_type: "product" };
    const product = (code: string, name: string, tracking: string, categ: number, uom = units) =>
      xml(
        `threadline.product_${code.toLowerCase().replace(/-/g, "_")}`,
        "product.product",
        env.create("product.product", {
          default_code: code,
          name,
          tracking,
          categ_id: categ,
          uom_id: uom,
          ...storable,
        }),
      );
    const steel = product("COMP-STL", "Steel Sheet 2mm", "lot", categComp);
    const alu = product("COMP-ALU", "Aluminium Profile 40x40", "none", categComp);
    const screw = product("COMP-SCR", "M6 Screw", "none", categComp);
    const board = product("COMP-PCB", "Control Board", "lot", categComp);
    const paintP = product("COMP-PNT", "Enclosure Paint RAL7035", "lot", categComp, kg);
    const jar = product("COMP-JAR", "Glass Jar 250 ml", "none", categComp);
    const cap = product("COMP-CAP", "Twist-off Cap 63 mm", "none", categComp);
    const label = product("COMP-LBL", "Front Label Honey 250 g", "none", categComp);
    const honey = product("COMP-HNY", "Bulk Honey", "lot", categComp, kg);
    const oats = product("COMP-OAT", "Rolled Oats", "none", categComp, kg);
    const syrup = product("COMP-SYR", "Glucose Syrup", "none", categComp, kg);
    const wrapper = product("COMP-WRP", "Bar Wrapper", "none", categComp);
    const cabinet = product("FIN-CC100", "Control Cabinet CC-100", "lot", categFin);
    const bracket = product("FIN-SB20", "Sensor Bracket SB-20", "none", categFin);
    const housing = product("FIN-PH5", "Pump Housing PH-5", "serial", categFin);
    const honeyJar = product("FIN-HJ250", "Honey Jar 250 g", "lot", categFin);
    const granola = product("FIN-GB40", "Granola Bar 40 g", "none", categFin);
    const tmplOf = (prod: number) => env.get("product.product", prod, "product_tmpl_id");
    // lines: [component, quantity, index of the operation consuming it (manual consumption in 16–19)]
    const bom = (
      prod: number,
      code: string,
      lines: ([number, number] | [number, number, number])[],
      ops: [string, number, number][],
      consumption: "flexible" | "warning" | "strict",
    ) => {
      const id = xml(
        `threadline.bom_${code.toLowerCase()}`,
        "mrp.bom",
        env.create("mrp.bom", {
          product_tmpl_id: tmplOf(prod),
          product_qty: 1,
          product_uom_id: units,
          code,
          consumption,
        }),
      );
      const opIds = ops.map(([name, center, minutes], i) =>
        env.create("mrp.routing.workcenter", {
          name,
          workcenter_id: center,
          bom_id: id,
          sequence: (i + 1) * 10,
          time_cycle_manual: minutes,
        }),
      );
      for (const [comp, qty, op] of lines)
        env.create("mrp.bom.line", {
          bom_id: id,
          product_id: comp,
          product_qty: qty,
          ...(op !== undefined ? { operation_id: opIds[op] } : {}),
        });
      return id;
    };
    const line = (code: string) => lineWc.get(code) as number;
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
      "flexible",
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
      "flexible",
    );
    bom(
      honeyJar,
      "HJ250",
      [
        [jar, 1],
        [cap, 1],
        [label, 1, 2],
        [honey, 0.25],
      ],
      [
        ["Filling", line("L1-FILL"), 0.02],
        ["Capping", line("L1-CAP"), 0.025],
        ["Labelling", line("L1-LAB"), 0.035],
      ],
      "strict",
    );
    bom(
      granola,
      "GB40",
      [
        [oats, 0.025],
        [syrup, 0.008],
        [wrapper, 1, 2],
      ],
      [
        ["Mixing", line("L2-MIX"), 0.05],
        ["Baking", line("L2-OVEN"), 0.04],
        ["Packing", line("L2-PACK"), 0.017],
      ],
      "warning",
    );

    // ------------------------------------------------------------ initial stock (inventory adjustments)
    const lot = (prod: number, name: string) => env.create("stock.lot", { name, product_id: prod });
    const adjusted = new Set<number>();
    const inventory = (prod: number, seeded: number, lotId: number | false = false) => {
      const override = opts.onHand?.[String(env.get("product.product", prod, "default_code"))];
      if (override !== undefined && adjusted.has(prod)) return;
      adjusted.add(prod);
      const qty = override ?? seeded;
      if (qty <= 0) return;
      const move = env.create("stock.move", {
        ...(p.stockMoveName ? { name: "Product Quantity Updated" } : {}),
        product_id: prod,
        product_uom_qty: qty,
        location_id: inventoryLoss,
        location_dest_id: stock,
        is_inventory: true,
        state: "confirmed",
        ...(p.picked ? { picked: true } : {}),
      });
      env.create("stock.move.line", {
        move_id: move,
        lot_id: lotId,
        is_inventory: true,
        [p.moveLineQty]: qty,
        ...(p.picked ? { picked: true } : {}),
      });
      actionDone(env, [move]);
    };
    inventory(steel, 200, lot(steel, "STL-2401"));
    inventory(steel, 150, lot(steel, "STL-2402"));
    inventory(alu, 500);
    inventory(screw, 5000);
    inventory(board, 100, lot(board, "PCB-1001"));
    inventory(paintP, 80, lot(paintP, "PNT-0001"));
    inventory(jar, 10_000);
    inventory(cap, 10_000);
    inventory(label, 10_000);
    inventory(honey, 2_500, lot(honey, "HNY-2401"));
    inventory(oats, 1_000);
    inventory(syrup, 400);
    inventory(wrapper, 20_000);
    inventory(bracket, 30);
    inventory(cabinet, 5, lot(cabinet, "CC-2024-0001"));

    // ------------------------------------------------------------ manufacturing orders in every state
    const planned = (days: number) => {
      const d = new Date(tx.now.getTime() + days * 86_400_000);
      return `${d.toISOString().slice(0, 10)} 06:00:00`;
    };
    const makeMo = (prod: number, qty: number, days: number, origin: string) =>
      env.create("mrp.production", {
        product_id: prod,
        product_qty: qty,
        origin,
        [p.mrpPlannedStart]: planned(days),
      });
    const setLot = (mo: number, lotId: number) =>
      env.write(
        "mrp.production",
        [mo],
        p.lotProducingMany ? { lot_producing_ids: [[4, lotId]] } : { lot_producing_id: lotId },
      );
    const wos = (mo: number) => env.get("mrp.production", mo, "workorder_ids") as number[];

    makeMo(bracket, randomInt(random, 20, 60), 5, "SO-0042"); // draft
    makeMo(cabinet, 2, 7, "SO-0043"); // draft
    for (const [prod, qty, days] of [
      [bracket, randomInt(random, 10, 40), 1],
      [cabinet, 3, 2],
      [housing, 1, 3],
    ] as const)
      confirm(env, [makeMo(prod, qty, days, `SO-00${44 + days}`)]);
    const running = makeMo(cabinet, 5, 0, "SO-0050");
    confirm(env, [running]);
    setLot(running, lot(cabinet, "CC-2024-0002"));
    startWorkorders(env, [wos(running)[0] as number]);
    const half = makeMo(bracket, 40, 0, "SO-0051");
    confirm(env, [half]);
    env.write("mrp.production", [half], { qty_producing: 20 });
    const closing = makeMo(bracket, 12, -1, "SO-0052");
    confirm(env, [closing]);
    for (const w of wos(closing)) {
      startWorkorders(env, [w]);
      finishWorkorders(env, [w]);
    }
    const done = makeMo(bracket, 25, -2, "SO-0040");
    confirm(env, [done]);
    env.write("mrp.production", [done], { qty_producing: 25 });
    setQtyProducing(env, done);
    // A careful planner also books the components Odoo leaves to a person (the tracked steel on
    // 16/17), as the form's "consumed" box does: the done order consumed its whole BoM.
    for (const m of env.get("mrp.production", done, "move_raw_ids") as number[]) {
      const demand = env.get("stock.move", m, "product_uom_qty") as number;
      setQuantityDone(env, m, demand);
      if (p.picked) env.write("stock.move", [m], { picked: true });
    }
    markDone(env.withContext({ skip_immediate: true, skip_consumption: true, skip_backorder: true }), [done]);
    const cancelled = makeMo(housing, 2, 4, "SO-0041");
    confirm(env, [cancelled]);
    cancelProductions(env, [cancelled]);

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
    if (!p.picked)
      for (const m of env.get("stock.picking", receivedDone, "move_ids") as number[])
        env.write("stock.move", [m], { quantity_done: env.get("stock.move", m, "product_uom_qty") });
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

    // ------------------------------------------------------------ quality (Enterprise)
    if (!quality) return;
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
