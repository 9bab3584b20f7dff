/**
 * Specification: `threadline masterdata check` (and the connector's start-up run of the same checks)
 * finds in Odoo's master data what would block or mislead postings, names the records, and exits 1
 * only when something blocks — against the Odoo simulator over HTTP, as Odoo's integration user, on
 * Odoo 17 (units in categories) and 19 (units chained to a reference unit).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Registry } from "prom-client";
import {
  checkMasterData,
  loadSnapshot,
  MasterDataWatch,
} from "../../services/odoo-connector/src/masterdata/index.js";
import { silentLogger } from "../../streams/src/index.js";
import { threadline } from "../harness/cli.js";
import { connectIntegration, startOdoo, WORKCENTER_BY_MACHINE } from "./fixture.js";

for (const profile of [17, 19] as const) {
  describe(`master-data checks - Odoo ${profile}`, () => {
    test("the seeded data: nothing blocks; the work centres no line maps to are named", async (t) => {
      const sim = await startOdoo(t, { profile });
      const client = await connectIntegration(t, sim);
      const report = checkMasterData(await loadSnapshot(client), { workcenterByLine: WORKCENTER_BY_MACHINE });
      assert.equal(report.blocking, false, JSON.stringify(report.findings, null, 2));
      assert.deepEqual(
        report.findings.map((f) => f.check),
        ["workcenter_unmapped"],
      );
      assert.deepEqual(report.findings[0]?.records.map((r) => r.name).sort(), [
        "Assembly Line 1",
        "CNC Mill",
        "Packing Station",
        "Paint Booth",
      ]);
    });

    test("duplicate codes, a BoM line in a unit that does not convert, an archived component, an unknown machine and a lot off the convention are each named", async (t) => {
      const sim = await startOdoo(t, { profile });
      const env = sim.env;
      const [jar] = await env.search("product.product", [["default_code", "=", "COMP-JAR"]]);
      const [labelP] = await env.search("product.product", [["default_code", "=", "COMP-LBL"]]);
      await env.create("product.product", {
        name: "Glass Jar 250 ml (supplier B)",
        default_code: "COMP-JAR",
      });
      const [kg] = await env.search("uom.uom", [["name", "=", "kg"]]);
      const [jarLine] = await env.search("mrp.bom.line", [["product_id", "=", jar]]);
      await env.write("mrp.bom.line", [jarLine as number], { product_uom_id: kg });
      await env.write("product.product", [labelP as number], { active: false });
      await env.create("stock.lot", { name: "honey lot 7", product_id: jar });

      const client = await connectIntegration(t, sim);
      const report = checkMasterData(await loadSnapshot(client), {
        machines: [
          { line: "line-1", machine: "labeler-1", workcenter: "L1-LAB" },
          { line: "line-1", machine: "sealer-1", workcenter: "L1-SEAL" },
        ],
        lotPattern: /^[A-Z]{2,4}-\d{4}$/,
      });
      const by = (check: string) => report.findings.filter((f) => f.check === check);
      assert.equal(report.blocking, true);
      assert.match(
        by("duplicate_code")[0]?.message ?? "",
        /2 active products share the internal reference COMP-JAR/,
      );
      assert.equal(by("duplicate_code")[0]?.records.length, 2);
      assert.match(by("bom_unit_category")[0]?.message ?? "", /consumes \[COMP-JAR\] Glass Jar 250 ml in kg/);
      assert.ok(
        by("bom_archived_product").some((f) => /Front Label Honey 250 g, which is archived/.test(f.message)),
        JSON.stringify(by("bom_archived_product")),
      );
      assert.deepEqual(
        by("machine_unknown").map((f) => f.message.split(",")[0]),
        ["machine line-1/sealer-1 maps to work centre L1-SEAL"],
      );
      assert.ok(by("lot_convention")[0]?.records.some((r) => r.name === "honey lot 7"));
      assert.equal(by("lot_convention")[0]?.severity, "warning");
    });

    test("the command line: exit 1 naming what blocks, exit 0 with warnings only; the connector's run sets the gauges", async (t) => {
      const sim = await startOdoo(t, { profile });
      const env = {
        ODOO_URL: sim.url,
        ODOO_DB: sim.db,
        ODOO_LOGIN: sim.users.integration.login,
        ODOO_API_KEY: sim.users.integration.apiKey,
        WORKCENTER_BY_LINE: JSON.stringify(WORKCENTER_BY_MACHINE),
      };
      const ok = await threadline(["masterdata", "check"], { env });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /warning +workcenter_unmapped: 4 active work centre\(s\)/);
      assert.match(ok.stdout, /0 blocking, 1 warning\(s\)/);
      await sim.env.create("product.product", { name: "Bulk Honey (copy)", default_code: "COMP-HNY" });
      const bad = await threadline(["masterdata", "check", "--json"], { env });
      assert.equal(bad.code, 1);
      const report = JSON.parse(bad.stdout) as { blocking: boolean; counts: Record<string, number> };
      assert.equal(report.blocking, true);
      assert.equal(report.counts["duplicate_code"], 1);
      const usage = await threadline(["masterdata", "check", "--lot-pattern", "("], { env });
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /not a regular expression/);

      const registry = new Registry();
      const watch = new MasterDataWatch({
        client: await connectIntegration(t, sim),
        logger: silentLogger,
        registry,
        intervalMs: 0,
        check: { workcenterByLine: WORKCENTER_BY_MACHINE },
      });
      await watch.run();
      await watch.stop();
      const text = await registry.metrics();
      assert.match(text, /threadline_masterdata_findings\{check="duplicate_code",severity="blocking"\} 1/);
      assert.match(
        text,
        /threadline_masterdata_findings\{check="workcenter_unmapped",severity="warning"\} 1/,
      );
      assert.match(text, /threadline_masterdata_findings\{check="machine_unknown",severity="blocking"\} 0/);
    });
  });
}
