/**
 * Production postings as Odoo's own manufacturing records them, per version 16–19, against the
 * strict simulator over HTTP as Odoo's integration user (exactly Manufacturing / User): one counting
 * point per line, components consumed as the form would, real machine time on each work centre,
 * orders closed only when a run ends, with at most one backorder, and every effect exactly once.
 *
 * The line: filler-1 → capper-1 → labeler-1 (the counting point) making Honey Jar 250 g (lot-tracked,
 * BoM "strict": jar, cap, honey, and a label consumed at the labelling operation).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Registry } from "prom-client";
import type {
  ProductionReported,
  ProductionRunEnded,
  RunEndReason,
} from "../../contracts/src/events.generated.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import { checkOdooSetup, OdooSetupError, setupOdoo } from "../../services/odoo-connector/src/odoo-setup.js";
import { postProductionReported, postRunEnded } from "../../services/odoo-connector/src/outbound/index.js";
import type { PostingContext, PostingEvent } from "../../services/odoo-connector/src/outbound/steps.js";
import { PermanentError } from "../../streams/src/consumer.js";
import { type OdooSimulator, startOdooSimulator } from "../../tools/sim/odoo/server.js";
import { connectIntegration, postingContext, setUpThreadline } from "./fixture.js";

const T0 = Date.now() - 3_600_000;
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
let sequence = 0;

interface ReportOptions {
  counting?: boolean;
  rejectedComponent?: string;
  /** Running stretches, in minutes from T0. */
  running?: [number, number][];
  lot?: string | null;
  line?: string;
}

function report(
  order: string,
  machine: string,
  good: number,
  reject: number,
  o: ReportOptions = {},
): PostingEvent<ProductionReported> {
  const running = o.running ?? [[0, 1]];
  return {
    id: `report-${++sequence}`,
    value: {
      equipment: { site: "lyon", area: null, line: o.line ?? "line-1", cell: null, machine },
      orderRef: order,
      lot: o.lot === undefined ? "LOT-A" : o.lot,
      goodQuantity: { value: String(good), uom: "Units" },
      rejectQuantity: { value: String(reject), uom: "Units" },
      goodCounterFrom: 0n,
      goodCounterTo: 0n,
      rejectCounterFrom: 0n,
      rejectCounterTo: 0n,
      periodStartAt: at(running[0]?.[0] ?? 0),
      reportedAt: at(running[running.length - 1]?.[1] ?? 1),
      countingPoint: o.counting ?? false,
      rejectedComponent: o.rejectedComponent ?? null,
      running: running.map(([a, b]) => ({ startedAt: at(a), endedAt: at(b) })),
    },
  };
}

function runEnded(
  order: string,
  reason: RunEndReason,
  minutes: number,
  o: { line?: string; lot?: string | null } = {},
): PostingEvent<ProductionRunEnded> {
  return {
    id: `run-ended-${++sequence}`,
    value: {
      equipment: { site: "lyon", area: null, line: o.line ?? "line-1", cell: null, machine: "labeler-1" },
      orderRef: order,
      lot: o.lot === undefined ? "LOT-A" : o.lot,
      reason,
      nextOrderRef: null,
      nextLot: null,
      requestedBy: null,
      endedAt: at(minutes),
    },
  };
}

/** What a planner sees of an order in Odoo. */
interface OrderView {
  name: string;
  state: string;
  producing: number;
  produced: number;
  planned: number;
  /** Component code → quantity recorded as consumed (17+: picked or done; 16: done quantity). */
  consumed: Record<string, number>;
  /** Work centre code → minutes logged on its work order. */
  minutes: Record<string, number>;
  /** [product code, quantity, lot] of done scraps from the order. */
  scraps: [string, number, string | null][];
}

async function view(sim: OdooSimulator, id: number): Promise<OrderView> {
  const v = sim.profile.version;
  const [mo] = await sim.env.read(
    "mrp.production",
    [id],
    ["name", "state", "qty_producing", "qty_produced", "product_qty"],
  );
  const qty = v === 16 ? "quantity_done" : "quantity";
  const moves = await sim.env.searchRead(
    "stock.move",
    [
      ["raw_material_production_id", "=", id],
      v === 16 ? ["scrapped", "=", false] : ["scrap_id", "=", false],
      ["state", "!=", "cancel"],
    ],
    ["product_id", qty, "state", ...(v >= 17 ? ["picked"] : [])],
  );
  const code = (p: unknown) => String((p as [number, string])[1]).replace(/^\[([^\]]+)\].*$/, "$1");
  const consumed: Record<string, number> = {};
  for (const m of moves)
    if (v === 16 || m["picked"] === true || m["state"] === "done")
      consumed[code(m["product_id"])] = (consumed[code(m["product_id"])] ?? 0) + Number(m[qty]);
  const wos = await sim.env.searchRead(
    "mrp.workorder",
    [["production_id", "=", id]],
    ["workcenter_id", "duration"],
  );
  const codes = new Map(
    (await sim.env.searchRead("mrp.workcenter", [], ["code"])).map((w) => [
      w["id"] as number,
      String(w["code"]),
    ]),
  );
  const minutes: Record<string, number> = {};
  for (const w of wos) minutes[codes.get((w["workcenter_id"] as [number])[0]) ?? "?"] = Number(w["duration"]);
  const scraps = (
    await sim.env.searchRead(
      "stock.scrap",
      [
        ["production_id", "=", id],
        ["state", "=", "done"],
      ],
      ["product_id", "scrap_qty", "lot_id"],
    )
  ).map((s): [string, number, string | null] => [
    code(s["product_id"]),
    Number(s["scrap_qty"]),
    s["lot_id"] ? String((s["lot_id"] as [number, string])[1]) : null,
  ]);
  return {
    name: String(mo?.["name"]),
    state: String(mo?.["state"]),
    producing: Number(mo?.["qty_producing"]),
    produced: Number(mo?.["qty_produced"]),
    planned: Number(mo?.["product_qty"]),
    consumed,
    minutes,
    scraps,
  };
}

/** The family of an order as Odoo names its members (the original is renamed `-001` when split). */
async function family(
  sim: OdooSimulator,
  name: string,
): Promise<{ id: number; name: string; state: string }[]> {
  const rows = await sim.env.searchRead(
    "mrp.production",
    ["|", ["name", "=", name], ["name", "=like", `${name}-%`]],
    ["name", "state"],
  );
  return rows.map((r) => ({ id: r["id"] as number, name: String(r["name"]), state: String(r["state"]) }));
}

async function newOrder(
  sim: OdooSimulator,
  code: string,
  qty: number,
): Promise<{ id: number; name: string }> {
  const [product] = await sim.env.search("product.product", [["default_code", "=", code]]);
  const id = await sim.env.create("mrp.production", { product_id: product, product_qty: qty });
  await sim.env.call("mrp.production", "action_confirm", [[id]]);
  const [row] = await sim.env.read("mrp.production", [id], ["name"]);
  return { id, name: String(row?.["name"]) };
}

async function rejected(p: Promise<unknown>): Promise<PermanentError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PermanentError, `expected a PermanentError, got ${String(err)}`);
    return err;
  }
  assert.fail("the posting succeeded");
}

for (const profile of [16, 17, 18, 19] as const) {
  describe(`odoo outbound - production postings as Odoo manufactures - Odoo ${profile}`, () => {
    let sim: OdooSimulator;
    let client: OdooClient;
    let ctx: PostingContext;

    let admin: OdooClient;

    before(async () => {
      sim = await startOdooSimulator({ profile });
      admin = await OdooClient.connect({
        url: sim.url,
        db: sim.db,
        login: sim.credentials.login,
        apiKey: sim.credentials.apiKey,
        registry: new Registry(),
        ratePerSecond: 1_000,
      });
      await setupOdoo(admin);
      const integration = sim.users.integration;
      client = await OdooClient.connect({
        url: sim.url,
        db: sim.db,
        login: integration.login,
        apiKey: integration.apiKey,
        registry: new Registry(),
        ratePerSecond: 1_000,
      });
      ctx = postingContext(client);
    });
    after(async () => {
      await client.close();
      await admin.close();
      await sim.stop();
    });

    test("only the counting point's counts become finished goods, on the one open order; components follow as the form fills them; every machine's running time lands on its own work order", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      await postProductionReported(ctx, report(mo.name, "filler-1", 12, 1, { running: [[0, 2]] }));
      await postProductionReported(
        ctx,
        report(mo.name, "capper-1", 11, 1, { rejectedComponent: "COMP-CAP", running: [[0, 1.5]] }),
      );
      await postProductionReported(
        ctx,
        report(mo.name, "labeler-1", 10, 1, { counting: true, running: [[0, 1]] }),
      );
      const o = await view(sim, mo.id);
      assert.equal(o.state === "done", false, "nothing closes an order but a run's end");
      assert.equal(o.producing, 11, "the counting point's good + rejected, nothing of the upstream machines");
      assert.deepEqual(o.consumed, { "COMP-JAR": 11, "COMP-CAP": 11, "COMP-LBL": 11, "COMP-HNY": 2.75 });
      assert.deepEqual(o.minutes, { "L1-FILL": 2, "L1-CAP": 1.5, "L1-LAB": 1 });
      assert.deepEqual(o.scraps, [["COMP-CAP", 1, null]], "the capper's reject is a scrapped cap");
    });

    test("a run reported every 2 s is one time log per stretch of running, its minutes the machine's (Odoo rounds each log to 0.01 min)", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      const step = 2 / 60; // 2 s
      // 1 min running, then stopped 1 min, then 0.5 min again: two stretches, 45 reports
      for (let i = 0; i < 30; i++)
        await postProductionReported(
          ctx,
          report(mo.name, "filler-1", 1, 0, { running: [[i * step, (i + 1) * step]] }),
        );
      for (let i = 0; i < 15; i++)
        await postProductionReported(
          ctx,
          report(mo.name, "filler-1", 1, 0, { running: [[2 + i * step, 2 + (i + 1) * step]] }),
        );
      const o = await view(sim, mo.id);
      assert.equal(o.minutes["L1-FILL"], 1.5, "45 logs of 0.03 min would hold 1.35");
      const [wo] = await sim.env.searchRead(
        "mrp.workorder",
        [
          ["production_id", "=", mo.id],
          ["time_ids", "!=", false],
        ],
        ["time_ids"],
      );
      assert.equal((wo?.["time_ids"] as number[] | undefined)?.length, 2, "one log per stretch");
    });

    test("a later count adds to the order, also to a quantity an operator entered by hand", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      await postProductionReported(ctx, report(mo.name, "labeler-1", 5, 0, { counting: true }));
      await sim.env.write("mrp.production", [mo.id], { qty_producing: 7 }); // 2 entered on the form
      await postProductionReported(ctx, report(mo.name, "labeler-1", 4, 1, { counting: true }));
      const o = await view(sim, mo.id);
      assert.equal(o.producing, 12);
      assert.equal(o.consumed["COMP-JAR"], 12, "components follow the whole quantity");
    });

    test("a quantity entered in Odoo while a report is being posted is added to, not written over", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      await postProductionReported(ctx, report(mo.name, "labeler-1", 5, 0, { counting: true }));
      // The operator saves the form after the posting read the order, before it writes the quantity
      // (while it looks for the time log to extend).
      let entered = false;
      const odoo = new Proxy(ctx.odoo, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver);
          if (name !== "searchRead" || typeof value !== "function") return value;
          return async (model: string, ...rest: unknown[]) => {
            if (model === "mrp.workcenter.productivity" && !entered) {
              entered = true;
              await sim.env.write("mrp.production", [mo.id], { qty_producing: 8 });
            }
            return (value as (...a: unknown[]) => unknown).call(target, model, ...rest);
          };
        },
      });
      await postProductionReported({ ...ctx, odoo }, report(mo.name, "labeler-1", 4, 1, { counting: true }));
      assert.ok(entered, "the operator's write happened mid-posting");
      assert.equal((await view(sim, mo.id)).producing, 13);
    });

    test("a report delivered again or replayed changes nothing in Odoo", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      const capper = report(mo.name, "capper-1", 6, 2, { rejectedComponent: "COMP-CAP" });
      const labeler = report(mo.name, "labeler-1", 6, 1, { counting: true });
      for (const e of [capper, labeler])
        assert.equal((await postProductionReported(ctx, e)).outcome, "applied");
      const before = await view(sim, mo.id);
      for (const e of [capper, labeler, labeler, capper])
        assert.equal((await postProductionReported(ctx, e)).outcome, "already_applied");
      assert.deepEqual(await view(sim, mo.id), before);
    });

    test("the run's end closes the order: one backorder for the remainder, the rejects scrapped once, no work-centre time made up, moves dated at the shop-floor time", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      await postProductionReported(ctx, report(mo.name, "filler-1", 20, 0, { running: [[0, 3]] }));
      await postProductionReported(ctx, report(mo.name, "capper-1", 20, 0, { running: [[0.5, 2.5]] }));
      await postProductionReported(
        ctx,
        report(mo.name, "labeler-1", 18, 2, { counting: true, running: [[1, 4]] }),
      );
      const end = runEnded(mo.name, "ORDER_CHANGE", 5);
      assert.equal((await postRunEnded(ctx, end)).outcome, "applied");
      const members = await family(sim, mo.name);
      const closed = members.find((m) => m.id === mo.id);
      const rest = members.filter((m) => m.id !== mo.id);
      assert.equal(closed?.state, "done");
      assert.deepEqual(
        rest.map((m) => m.state),
        ["confirmed"],
        "exactly one backorder, for the remainder",
      );
      const o = await view(sim, mo.id);
      assert.equal(o.produced, 20);
      assert.deepEqual(
        o.scraps,
        [["FIN-HJ250", 2, "LOT-A"]],
        "the counting point's rejects, scrapped with their lot",
      );
      assert.deepEqual(
        o.minutes,
        { "L1-FILL": 3, "L1-CAP": 2, "L1-LAB": 3 },
        "the machines' own time, nothing Odoo filled in",
      );
      const [backorder] = rest;
      assert.equal((await view(sim, backorder?.id as number)).planned, 80);
      const dates = await sim.env.searchRead(
        "stock.move",
        [
          ["production_id", "=", mo.id],
          ["state", "=", "done"],
        ],
        ["date"],
      );
      assert.ok(dates.length > 0);
      for (const d of dates)
        assert.equal(String(d["date"]).slice(0, 16), at(5).toISOString().slice(0, 16).replace("T", " "));
      assert.equal((await postRunEnded(ctx, end)).outcome, "already_applied");
      assert.deepEqual((await view(sim, mo.id)).scraps, o.scraps, "the rejects are scrapped once");
      assert.equal((await family(sim, mo.name)).length, members.length, "no second backorder");
    });

    test("the operation type decides the remainder: never closes the order short, always and ask make one backorder", async () => {
      const [type] = await sim.env.search("stock.picking.type", [["code", "=", "mrp_operation"]]);
      try {
        await sim.env.write("stock.picking.type", [type as number], { create_backorder: "never" });
        const mo = await newOrder(sim, "FIN-HJ250", 100);
        await postProductionReported(ctx, report(mo.name, "labeler-1", 30, 0, { counting: true }));
        await postRunEnded(ctx, runEnded(mo.name, "ORDER_CHANGE", 2));
        assert.deepEqual(
          (await family(sim, mo.name)).map((m) => m.state),
          ["done"],
          "no backorder when the operation type says never",
        );
      } finally {
        await sim.env.write("stock.picking.type", [type as number], { create_backorder: "ask" });
      }
    });

    test("the close policy keeps an order open at a lot change unless the product is lot-tracked", async () => {
      const granola = await newOrder(sim, "FIN-GB40", 100);
      await postProductionReported(
        ctx,
        report(granola.name, "packer-2", 10, 0, { counting: true, line: "line-2", lot: null }),
      );
      const kept = await postRunEnded(
        ctx,
        runEnded(granola.name, "LOT_CHANGE", 2, { line: "line-2", lot: null }),
      );
      assert.equal(kept.outcome, "skipped");
      assert.notEqual((await view(sim, granola.id)).state, "done");
      const honey = await newOrder(sim, "FIN-HJ250", 100);
      await postProductionReported(ctx, report(honey.name, "labeler-1", 10, 0, { counting: true }));
      assert.equal((await postRunEnded(ctx, runEnded(honey.name, "LOT_CHANGE", 2))).outcome, "applied");
      assert.equal((await view(sim, honey.id)).state, "done", "Odoo holds one produced lot per order");
    });

    test("a consumption the BoM does not allow is never confirmed: the close is dead-lettered naming the component, the order stays open", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      await postProductionReported(ctx, report(mo.name, "labeler-1", 10, 0, { counting: true }));
      // Someone books half the jars on the form: the strict BoM no longer matches.
      const [jar] = await sim.env.search("stock.move", [
        ["raw_material_production_id", "=", mo.id],
        ["product_id.default_code", "=", "COMP-JAR"],
      ]);
      await sim.env.write("stock.move", [jar as number], {
        [profile === 16 ? "quantity_done" : "quantity"]: 5,
      });
      const err = await rejected(postRunEnded(ctx, runEnded(mo.name, "ORDER_CHANGE", 2)));
      assert.equal(err.code, "CONNECTOR_CONSUMPTION_WARNING");
      assert.match(err.message, /Glass Jar 250 ml: consumed 5, the BoM expects 10/);
      assert.notEqual((await view(sim, mo.id)).state, "done");
    });

    test("a lot other than the one the order produced is refused until the run ends", async () => {
      const mo = await newOrder(sim, "FIN-HJ250", 100);
      await postProductionReported(ctx, report(mo.name, "labeler-1", 3, 0, { counting: true, lot: "LOT-A" }));
      const err = await rejected(
        postProductionReported(ctx, report(mo.name, "labeler-1", 3, 0, { counting: true, lot: "LOT-B" })),
      );
      assert.equal(err.code, "CONNECTOR_LOT_MISMATCH");
      assert.equal((await view(sim, mo.id)).producing, 3);
    });

    test("a serial-tracked product: one unit per serial, each closed on its own order; a rejected unit's serial is scrapped", async () => {
      const mo = await newOrder(sim, "FIN-PH5", 5);
      const e = report(mo.name, "assembler", 2, 1, {
        counting: true,
        lot: null,
        line: "cell-1",
        running: [],
      });
      const posted = await postProductionReported(ctx, e);
      assert.equal(posted.outcome, "applied");
      const members = await family(sim, mo.name);
      const done = members.filter((m) => m.state === "done");
      assert.equal(done.length, 3, "three units, three orders");
      const serials = new Set<string>();
      for (const m of done) {
        const [row] = await sim.env.read(
          "mrp.production",
          [m.id],
          ["qty_produced", profile >= 19 ? "lot_producing_ids" : "lot_producing_id"],
        );
        assert.equal(Number(row?.["qty_produced"]), 1);
        const lot = row?.[profile >= 19 ? "lot_producing_ids" : "lot_producing_id"];
        serials.add(JSON.stringify(lot));
      }
      assert.equal(serials.size, 3, "a serial each");
      const scraps = (await Promise.all(done.map((m) => view(sim, m.id)))).flatMap((v) => v.scraps);
      assert.equal(scraps.length, 1);
      assert.equal(scraps[0]?.[1], 1);
      assert.ok(scraps[0]?.[2], "the rejected unit's serial");
      assert.equal((await postProductionReported(ctx, e)).outcome, "already_applied");
      assert.equal((await family(sim, mo.name)).length, members.length);
    });

    test("an order split across two lines: each line's counts go to its own half", async () => {
      const a = await newOrder(sim, "FIN-GB40", 100);
      const [row] = await sim.env.read(
        "mrp.production",
        [a.id],
        [profile >= 19 ? "production_group_id" : "procurement_group_id"],
      );
      const group = (
        row?.[profile >= 19 ? "production_group_id" : "procurement_group_id"] as [number] | undefined
      )?.[0];
      const [product] = await sim.env.search("product.product", [["default_code", "=", "FIN-GB40"]]);
      const b = await sim.env.create("mrp.production", {
        product_id: product,
        product_qty: 50,
        [profile >= 19 ? "production_group_id" : "procurement_group_id"]: group,
      });
      await sim.env.call("mrp.production", "action_confirm", [[b]]);
      // The second half runs on line 1's work centres.
      const wos = await sim.env.search("mrp.workorder", [["production_id", "=", b]]);
      const l1 = await sim.env.search("mrp.workcenter", [["code", "in", ["L1-FILL", "L1-CAP", "L1-LAB"]]]);
      for (let i = 0; i < wos.length; i++)
        await sim.env.write("mrp.workorder", [wos[i] as number], {
          workcenter_id: l1[Math.min(i, l1.length - 1)],
        });
      await postProductionReported(
        ctx,
        report(a.name, "packer-2", 8, 0, { counting: true, line: "line-2", lot: null }),
      );
      await postProductionReported(
        ctx,
        report(a.name, "labeler-1", 5, 0, { counting: true, line: "line-1", lot: null }),
      );
      assert.equal((await view(sim, a.id)).producing, 8);
      assert.equal((await view(sim, b)).producing, 5);
    });
  });
}

describe("odoo setup - what Threadline needs in Odoo", () => {
  test("the connector refuses an Odoo that is not set up, naming each model and field; setup creates them once, not copied, and fixes a copied one", async (t) => {
    const sim = await startOdooSimulator({ profile: 17 });
    t.after(() => sim.stop());
    const client = await connectIntegration(t, sim);
    await assert.rejects(checkOdooSetup(client), (err: Error) => {
      assert.ok(err instanceof OdooSetupError);
      assert.match(err.message, /x_threadline_posting does not exist/);
      assert.match(err.message, /stock\.scrap\.x_threadline_event_id is missing/);
      assert.match(err.message, /run `threadline odoo setup`/);
      return true;
    });
    const admin = await setUpThreadline(t, sim);
    await checkOdooSetup(client);
    const again = await setupOdoo(admin);
    assert.ok(
      again.every((a) => a.done === "ok" || a.what.startsWith("setup record")),
      JSON.stringify(again),
    );
    const fields = await sim.env.searchRead(
      "ir.model.fields",
      [["name", "like", "x_threadline"]],
      ["model", "name", "copied", "index", "state"],
    );
    assert.ok(fields.length >= 8);
    for (const f of fields) {
      assert.equal(f["copied"], false, `${String(f["model"])}.${String(f["name"])} is not copied`);
      assert.equal(f["state"], "manual");
    }
    const [scrapField] = await sim.env.search("ir.model.fields", [
      ["model", "=", "stock.scrap"],
      ["name", "=", "x_threadline_event_id"],
    ]);
    await sim.env.write("ir.model.fields", [scrapField as number], { copied: true });
    const adminCheck = await checkOdooSetup(admin).then(
      () => "accepted",
      (e: Error) => e.message,
    );
    assert.match(adminCheck, /stock\.scrap\.x_threadline_event_id is copied/);
    const fixed = await setupOdoo(admin);
    assert.ok(fixed.some((a) => a.done === "fixed" && a.what.includes("stock.scrap.x_threadline_event_id")));
    await checkOdooSetup(admin);
  });
});
