/**
 * The running connector's postings read units and products from the master data it publishes
 * (MFG_MASTERDATA), not from Odoo: against the Odoo simulator over HTTP and a real nats-server, per
 * unit model (Odoo 16: categories and ratios; 19: relative units). A unit or product created in Odoo
 * after the master data was read is found by one re-read of its model; a wrong one is refused, and
 * its redelivery within the window asks Odoo nothing more.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import type { ProductionReported, Quantity } from "../../contracts/src/events.generated.js";
import { InboundSync } from "../../services/odoo-connector/src/inbound/index.js";
import { MASTERDATA_SOURCES } from "../../services/odoo-connector/src/inbound/mapping/index.js";
import { postProductionReported } from "../../services/odoo-connector/src/outbound/index.js";
import type { PostingContext, PostingEvent } from "../../services/odoo-connector/src/outbound/steps.js";
import { MasterDataReference } from "../../services/odoo-connector/src/reference/index.js";
import { MasterData, PermanentError } from "../../streams/src/index.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import {
  connectIntegration,
  connectorPublisher,
  connectorStateKv,
  postingContext,
  startOdoo,
  startStreams,
} from "./fixture.js";

const { nc } = await startStreams();
const T0 = Date.now() - 3_600_000;
const at = (minutes: number) => new Date(T0 + minutes * 60_000);
let sequence = 0;
const q = (value: string, uom: string): Quantity => ({ value, uom });

function counted(order: string, good: Quantity, reject: Quantity, rejectedComponent: string | null = null) {
  return {
    id: `reference-report-${++sequence}`,
    value: {
      equipment: { site: "lyon", area: null, line: "line-1", cell: null, machine: "labeler-1" },
      orderRef: order,
      lot: "LOT-R",
      goodQuantity: good,
      rejectQuantity: reject,
      goodCounterFrom: 0n,
      goodCounterTo: 0n,
      rejectCounterFrom: 0n,
      rejectCounterTo: 0n,
      periodStartAt: at(0),
      reportedAt: at(1),
      countingPoint: rejectedComponent === null,
      rejectedComponent,
      running: [{ startedAt: at(0), endedAt: at(1) }],
    },
  } satisfies PostingEvent<ProductionReported>;
}

async function orderIn(sim: OdooSimulator, uom: string, qty: number) {
  const [product] = await sim.env.search("product.product", [["default_code", "=", "FIN-HJ250"]]);
  const [unit] = await sim.env.search("uom.uom", [["name", "=", uom]]);
  const id = await sim.env.create("mrp.production", {
    product_id: product,
    product_qty: qty,
    product_uom_id: unit,
  });
  await sim.env.call("mrp.production", "action_confirm", [[id]]);
  const [row] = await sim.env.read("mrp.production", [id], ["name", "qty_producing"]);
  return { id, name: String(row?.["name"]) };
}

async function producing(sim: OdooSimulator, id: number): Promise<number> {
  const [row] = await sim.env.read("mrp.production", [id], ["qty_producing"]);
  return Number(row?.["qty_producing"]);
}

/** The integration user's reads of `model` over the external API since `from` (an index in the log). */
function readsOf(sim: OdooSimulator, model: string, from: number): number {
  return sim
    .calls()
    .slice(from)
    .filter((c) => c.model === model && /^(search_read|read|search|web_search_read)$/.test(c.method)).length;
}

async function refusal(p: Promise<unknown>): Promise<PermanentError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PermanentError, `expected a PermanentError, got ${String(err)}`);
    return err;
  }
  assert.fail("the posting succeeded");
}

for (const profile of [16, 19] as const) {
  describe(`odoo outbound - reference data from the master data - Odoo ${profile}`, () => {
    test("postings convert units and find products from MFG_MASTERDATA without reading them from Odoo; a unit created since is found by one re-read, a wrong one refused without a second", async (t) => {
      const site = `ref${profile}`;
      const sim = await startOdoo(t, { profile, db: `reference${profile}` });
      const client = await connectIntegration(t, sim);
      const sync = new InboundSync({
        client,
        publisher: connectorPublisher(nc, site),
        kv: await connectorStateKv(nc),
        js: jetstream(nc),
        db: sim.db,
        site,
        models: MASTERDATA_SOURCES.map((s) => s.model),
        minPassIntervalMs: 0,
      });
      t.after(() => sync.stop());
      await sync.syncNow();
      const masterData = MasterData.open(nc, { kinds: ["unit", "product"], site });
      t.after(() => masterData.close());
      await masterData.ready;
      const refreshed: string[] = [];
      const reference = new MasterDataReference({
        masterData,
        refresh: async (model) => {
          refreshed.push(model);
          return (await sync.syncNow(model)).reduce((n, r) => n + r.published, 0);
        },
      });
      const ctx: PostingContext = { ...postingContext(client), reference };

      // Units and Dozens on an order in Dozens, a component's rejects scrapped in its own unit.
      const mo = await orderIn(sim, "Dozens", 10);
      const mark = sim.calls().length;
      const first = await postProductionReported(ctx, counted(mo.name, q("24", "Units"), q("0.5", "Dozens")));
      assert.equal(first.outcome, "applied");
      assert.deepEqual(first.posted?.postedGoodQuantity, { value: "2.00", uom: "Dozens" });
      assert.equal(await producing(sim, mo.id), 2.5);
      const scrap = await postProductionReported(
        ctx,
        counted(mo.name, q("0", "Units"), q("3", "Units"), "COMP-JAR"),
      );
      assert.equal(scrap.outcome, "applied");
      assert.equal(readsOf(sim, "uom.uom", mark), 0, "no unit read from Odoo");
      assert.equal(readsOf(sim, "product.product", mark), 0, "no product read from Odoo");
      assert.deepEqual(refreshed, []);

      // A unit created in Odoo after the master data was read: its first report re-reads the units once.
      const [units] = await sim.env.search("uom.uom", [["name", "=", "Units"]]);
      const unitCategory =
        profile === 19
          ? undefined
          : (await sim.env.read("uom.uom", [units as number], ["category_id"]))[0]?.["category_id"];
      await sim.env.create(
        "uom.uom",
        profile === 19
          ? { name: "Tray of 6", relative_factor: 6, relative_uom_id: units }
          : {
              name: "Tray of 6",
              category_id: unitCategory,
              uom_type: "bigger",
              factor: 1 / 6,
            },
      );
      const tray = await postProductionReported(ctx, counted(mo.name, q("1", "Tray of 6"), q("0", "Units")));
      assert.equal(tray.outcome, "applied");
      assert.equal(await producing(sim, mo.id), 3, "2.5 Dozens and a tray of 6 jars are 3 Dozens");
      assert.deepEqual(refreshed, ["uom.uom"]);

      // A unit Odoo does not have: refused naming both; its redelivery does not read Odoo again.
      const before = sim.calls().length;
      const unknown = await refusal(
        postProductionReported(ctx, counted(mo.name, q("5", "jar"), q("0", "Units"))),
      );
      assert.equal(unknown.code, "UOM_UNKNOWN");
      assert.match(unknown.message, /"jar" is not a known unit/);
      assert.deepEqual(refreshed, ["uom.uom", "uom.uom"]);
      const again = await refusal(
        postProductionReported(ctx, counted(mo.name, q("5", "jar"), q("0", "Units"))),
      );
      assert.equal(again.code, "UOM_UNKNOWN");
      assert.deepEqual(
        refreshed,
        ["uom.uom", "uom.uom"],
        "the same miss within the window is not read again",
      );
      assert.equal(readsOf(sim, "uom.uom", before), 1, "one re-read of the units for the unknown one");
      assert.equal(await producing(sim, mo.id), 3);

      // A component code Odoo does not know: ProductNotFound after one re-read of the products.
      const noProduct = await refusal(
        postProductionReported(ctx, counted(mo.name, q("0", "Units"), q("2", "Units"), "COMP-NONE")),
      );
      assert.equal(noProduct.code, "CONNECTOR_PRODUCT_NOT_FOUND");
      assert.match(noProduct.message, /COMP-NONE/);
      assert.deepEqual(refreshed, ["uom.uom", "uom.uom", "product.product"]);
    });
  });
}
