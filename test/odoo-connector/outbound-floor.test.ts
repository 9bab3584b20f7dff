/**
 * Outbound postings of downtimes, quality holds and shipment decisions against the Odoo simulator
 * (over HTTP only) and a real nats-server with the declared streams, for every supported version.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import type { EventType } from "../../contracts/src/events.generated.js";
import { EquipmentMap } from "../../services/odoo-connector/src/equipment.js";
import { odooFields } from "../../services/odoo-connector/src/fields.js";
import type { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import {
  holdTitle,
  OdooSetup,
  type Outbound,
  postQualityHoldPlaced,
  startOutbound,
} from "../../services/odoo-connector/src/outbound/index.js";
import { silentLogger } from "../../streams/src/logger.js";
import type { OdooSimulator } from "../../tools/sim/odoo/server.js";
import { metricSum } from "../harness/metrics.js";
import { until } from "../harness/wait.js";
import { connectOdoo, connectorPublisher, floorPublisher, startOdoo, startStreams } from "./fixture.js";

const SITE = "plant-1";
const T0 = new Date("2025-03-04T08:00:00.000Z");

async function startConnector(
  t: TestContext,
  sim: OdooSimulator,
  nc: NatsConnection,
): Promise<{ client: OdooClient; outbound: Outbound; registry: Registry }> {
  const client = await connectOdoo(t, sim, { timeoutMs: 2_000, ratePerSecond: 2_000 });
  const registry = new Registry();
  const outbound = await startOutbound({
    nc,
    client,
    publisher: connectorPublisher(nc, SITE),
    site: SITE,
    registry,
    workcenterByLine: { "line-1": "ASM1" },
    only: ["downtimeStarted", "downtimeEnded", "quality", "shipping"],
    consumer: {
      retryBackoff: { initialDelayMs: 50, maxDelayMs: 400 },
      pullExpiresMs: 1_000,
      drainTimeoutMs: 3_000,
    },
  });
  return { client, outbound, registry };
}

/** Postings counted by the connector's metric, for one event type and outcome. */
const postings = (registry: Registry, type: EventType, outcome: string) =>
  metricSum(registry, "threadline_erp_postings_total", { event_type: type, outcome });

const equipment = { site: SITE, area: null, line: "line-1", cell: null, machine: "m1" };

for (const profile of [16, 17, 18, 19] as const) {
  test(`odoo outbound - downtimes, quality holds, shipments - Odoo ${profile}`, async (suite) => {
    const sim = await startOdoo(suite, { profile });
    const { nc } = await startStreams(suite);
    const bridge = floorPublisher(nc, "machine-bridge", SITE);
    const qualityService = floorPublisher(nc, "quality-service", SITE);
    const fields = odooFields(profile);
    const logs = (downtimeId: string) =>
      sim.env.searchRead(
        "mrp.workcenter.productivity",
        [["x_threadline_event_id", "=", downtimeId]],
        ["workcenter_id", "loss_type", "date_start", "date_end", "duration", "description"],
      );

    await suite.test(
      "a downtime becomes one work-center productivity log with its duration and an availability loss; an end before its start still gives one log",
      async (t) => {
        const { outbound, registry } = await startConnector(t, sim, nc);
        const reason = { code: "E-104", text: "Infeed jam" };
        const key = `${SITE}/line-1/m1`;
        await bridge.publish(
          "mfg.machine.downtime_started.v1",
          { downtimeId: "dt-1", equipment, reason, category: "UNPLANNED", startedAt: T0 },
          { site: SITE, line: "line-1", machine: "m1", key },
        );
        const end = new Date(T0.getTime() + 5 * 60_000);
        await until("the start posted", async () => (await logs("dt-1")).length === 1);
        await bridge.publish(
          "mfg.machine.downtime_ended.v1",
          {
            downtimeId: "dt-1",
            equipment,
            reason,
            category: "UNPLANNED",
            startedAt: T0,
            endedAt: end,
            durationMillis: 300_000n,
          },
          { site: SITE, line: "line-1", machine: "m1", key },
        );
        await until("the end posted", async () => (await logs("dt-1"))[0]?.["date_end"]);

        // dt-2: the end is handled before the start.
        const start2 = new Date(T0.getTime() + 3_600_000);
        const end2 = new Date(start2.getTime() + 90_000);
        await bridge.publish(
          "mfg.machine.downtime_ended.v1",
          {
            downtimeId: "dt-2",
            equipment,
            reason: null,
            category: "PLANNED",
            startedAt: start2,
            endedAt: end2,
            durationMillis: 90_000n,
          },
          { site: SITE, line: "line-1", machine: "m1", key },
        );
        await until("the lone end posted", async () => (await logs("dt-2")).length === 1);
        await bridge.publish(
          "mfg.machine.downtime_started.v1",
          { downtimeId: "dt-2", equipment, reason: null, category: "UNCLASSIFIED", startedAt: start2 },
          { site: SITE, line: "line-1", machine: "m1", key },
        );
        await until(
          "the late start handled",
          async () => (await postings(registry, "mfg.machine.downtime_started.v1", "already_applied")) === 1,
        );
        await outbound.stop();

        const [log1] = await logs("dt-1");
        const [wc] = await sim.env.search("mrp.workcenter", [["code", "=", "ASM1"]]);
        assert.deepEqual(
          [
            log1?.["workcenter_id"],
            log1?.["loss_type"],
            log1?.["date_start"],
            log1?.["date_end"],
            log1?.["duration"],
          ],
          [[wc, "Assembly Line 1"], "availability", "2025-03-04 08:00:00", "2025-03-04 08:05:00", 5],
        );
        assert.match(String(log1?.["description"]), /E-104 Infeed jam \(UNPLANNED\)/);
        const two = await logs("dt-2");
        assert.equal(two.length, 1);
        assert.deepEqual(
          [two[0]?.["date_start"], two[0]?.["date_end"], two[0]?.["duration"]],
          ["2025-03-04 09:00:00", "2025-03-04 09:01:30", 1.5],
        );
      },
    );

    await suite.test(
      "a quality hold raises an alert and moves the lot to quarantine; its release moves it back and closes the alert",
      async (t) => {
        const { outbound, client, registry } = await startConnector(t, sim, nc);
        const product = { code: "FIN-CC100", name: "Control Cabinet CC-100", odooId: null };
        const placed = await qualityService.publish(
          "mfg.quality.quality_hold_placed.v1",
          {
            holdId: "H-17",
            site: SITE,
            lot: "CC-2024-0001",
            product,
            quantity: { value: "2", uom: "Units" },
            reason: "bore diameter out of spec",
            status: "ACTIVE",
            triggeredBy: null,
            placedBy: "quality-service",
            placedAt: T0,
          },
          { site: SITE, key: "CC-2024-0001" },
        );
        await until(
          "the hold posted",
          async () => (await postings(registry, "mfg.quality.quality_hold_placed.v1", "applied")) === 1,
        );
        const [lot] = await sim.env.search("stock.lot", [["name", "=", "CC-2024-0001"]]);
        const stock = sim.env.ref("stock.stock_location_stock");
        const quarantine = sim.env.ref("threadline.location_quarantine");
        const alerts = () =>
          sim.env.searchRead(
            "quality.alert",
            [["title", "=", holdTitle("H-17")]],
            ["lot_id", "stage_id", "x_threadline_event_id"],
          );
        const transfers = async () => {
          const pickings = await sim.env.searchRead(
            "stock.picking",
            [["origin", "=", holdTitle("H-17")]],
            ["state", "location_id", "location_dest_id", "move_line_ids"],
            { order: "id asc" },
          );
          const out = [];
          for (const p of pickings) {
            const lines = await sim.env.read("stock.move.line", p["move_line_ids"] as number[], [
              "lot_id",
              fields.moveLineQty,
            ]);
            out.push([
              p["state"],
              (p["location_id"] as [number, string])[0],
              (p["location_dest_id"] as [number, string])[0],
              lines.map((l) => [(l["lot_id"] as [number, string])[0], l[fields.moveLineQty]]),
            ]);
          }
          return out;
        };
        const [alert] = await alerts();
        assert.deepEqual(alert?.["lot_id"], [lot, "CC-2024-0001"]);
        assert.equal(alert?.["x_threadline_event_id"], placed.envelope.id);
        assert.deepEqual(await transfers(), [["done", stock, quarantine, [[lot, 2]]]]);

        // The placement delivered again posts nothing new.
        const ctx = {
          odoo: client,
          fields,
          setup: new OdooSetup(client),
          equipment: new EquipmentMap({}),
          logger: silentLogger,
        };
        const again = await postQualityHoldPlaced(ctx, {
          id: placed.envelope.id,
          value: {
            holdId: "H-17",
            site: SITE,
            lot: "CC-2024-0001",
            product,
            quantity: { value: "2", uom: "Units" },
            reason: "bore diameter out of spec",
            status: "ACTIVE",
            triggeredBy: null,
            placedBy: "quality-service",
            placedAt: T0,
          },
        });
        assert.equal(again.outcome, "already_applied");

        await qualityService.publish(
          "mfg.quality.quality_hold_released.v1",
          {
            holdId: "H-17",
            site: SITE,
            lot: "CC-2024-0001",
            product,
            reason: "re-measured within spec",
            status: "RELEASED",
            releasedBy: "inspector-1",
            releasedAt: new Date(T0.getTime() + 7_200_000),
          },
          { site: SITE, key: "CC-2024-0001" },
        );
        await until(
          "the release posted",
          async () => (await postings(registry, "mfg.quality.quality_hold_released.v1", "applied")) === 1,
        );
        await outbound.stop();
        assert.deepEqual(await transfers(), [
          ["done", stock, quarantine, [[lot, 2]]],
          ["done", quarantine, stock, [[lot, 2]]],
        ]);
        const [closed] = await alerts();
        assert.deepEqual(closed?.["stage_id"], [
          await sim.env.search("quality.alert.stage", [["name", "=", "Solved"]]).then((s) => s[0]),
          "Solved",
        ]);
        assert.equal((await alerts()).length, 1);
      },
    );

    await suite.test("a blocked shipment cannot be validated in Odoo until it is cleared", async (t) => {
      const { outbound, registry } = await startConnector(t, sim, nc);
      const [bracket] = await sim.env.search("product.product", [["default_code", "=", "FIN-SB20"]]);
      const stock = sim.env.ref("stock.stock_location_stock");
      const customers = sim.env.ref("stock.stock_location_customers");
      const picking = await sim.env.create("stock.picking", {
        picking_type_id: sim.env.ref("stock.picking_type_out"),
        location_id: stock,
        location_dest_id: customers,
        move_ids: [
          [
            0,
            0,
            {
              ...(sim.profile.stockMoveName ? { name: "Sensor Bracket SB-20" } : {}),
              product_id: bracket,
              product_uom_qty: 3,
              location_id: stock,
              location_dest_id: customers,
            },
          ],
        ],
      });
      await sim.env.call("stock.picking", "action_confirm", [[picking]]);
      const [row] = await sim.env.read("stock.picking", [picking], ["name"]);
      const pickingRef = String(row?.["name"]);
      const gate = floorPublisher(nc, "shipment-gate", SITE);
      await gate.publish(
        "mfg.shipping.shipment_blocked.v1",
        {
          pickingRef,
          odooPickingId: BigInt(picking),
          site: SITE,
          blockedLots: [
            {
              lot: "SB-LOT-9",
              product: { code: "FIN-SB20", name: null, odooId: null },
              holdIds: ["H-21"],
              reason: "burrs on edges",
            },
          ],
          blockedAt: T0,
        },
        { site: SITE, key: pickingRef },
      );
      await until(
        "the block posted",
        async () => (await postings(registry, "mfg.shipping.shipment_blocked.v1", "applied")) === 1,
      );

      /** Validates as a user does: the button, and 16's immediate transfer wizard when it comes up. */
      const validate = async () => {
        let result = (await sim.env.call("stock.picking", "button_validate", [[picking]])) as {
          res_model?: string;
          context?: Record<string, unknown>;
        };
        if (result?.res_model === "stock.immediate.transfer") {
          const wizard = await sim.env.create("stock.immediate.transfer", {}, result.context);
          result = (await sim.env.call("stock.immediate.transfer", "process", [[wizard]], {
            context: result.context,
          })) as typeof result;
        }
        return result;
      };
      const blocked = await validate();
      const checks = await sim.env.searchRead(
        "quality.check",
        [["picking_id", "=", picking]],
        ["quality_state", "title", "product_id"],
      );
      assert.equal(checks.length, 1);
      assert.equal(checks[0]?.["quality_state"], "none");
      assert.match(String(checks[0]?.["title"]), /Lot SB-LOT-9 is on quality hold: burrs on edges/);
      assert.equal(blocked?.res_model, "quality.check.wizard", "Odoo asks for the quality checks instead");
      assert.deepEqual(blocked?.context?.["default_check_ids"], [checks[0]?.["id"]]);
      assert.deepEqual(await sim.env.read("stock.picking", [picking], ["state", "quality_check_todo"]), [
        { id: picking, state: "assigned", quality_check_todo: true },
      ]);

      await gate.publish(
        "mfg.shipping.shipment_cleared.v1",
        {
          pickingRef,
          odooPickingId: BigInt(picking),
          site: SITE,
          lots: ["SB-LOT-9"],
          wasBlocked: true,
          clearedAt: T0,
        },
        { site: SITE, key: pickingRef },
      );
      await until(
        "the clearance posted",
        async () => (await postings(registry, "mfg.shipping.shipment_cleared.v1", "applied")) === 1,
      );
      await outbound.stop();
      assert.equal(await validate(), true);
      const [after] = await sim.env.read("stock.picking", [picking], ["state"]);
      assert.equal(after?.["state"], "done");
    });
  });
}
