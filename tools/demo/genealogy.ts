/**
 * The demo's lot genealogy: the genealogy builder runs beside the connector on its embedded database
 * (a temporary directory), building the lot graph from the events of the run. After the orders close,
 * a warehouse user ships part of the honey jars' lot to a customer in Odoo; the demo then asks the
 * builder — over its HTTP API, as `threadline genealogy` does — for the backward trace of the produced
 * lot (component lots, orders, machines), its forward trace to the shipment, and the recall report of
 * the bulk honey lot that went into it.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startService as startGenealogyBuilder } from "../../services/genealogy-builder/src/main.js";
import type { RecallReport, TraceResult } from "../../services/genealogy-builder/src/query/types.js";
import type { RunningService } from "../../streams/src/index.js";
import { GenealogyClient } from "../cli/genealogy-client.js";
import { recallText, traceTree } from "../cli/genealogy-render.js";
import { type PreparedDelivery, prepareDelivery, shipDelivery } from "../sim/odoo/scenarios.js";
import type { SimEnv } from "../sim/odoo/server.js";

export interface GenealogyDemo {
  readonly url: string;
  /** The API's bearer token (a fresh random one per demo; printed only by `--hold`'s description). */
  readonly token: string;
  /**
   * Ships part of `lot` of `product` to a customer in Odoo, then prints the traces and a recall;
   * `beforeShip` runs once the delivery is requested, before it is validated (the quality gate).
   */
  shipAndTrace(
    sim: { env: SimEnv; version: number },
    product: string,
    lot: string,
    beforeShip?: (delivery: PreparedDelivery) => Promise<void>,
  ): Promise<void>;
  stop(): Promise<void>;
}

const WAIT_MS = 60_000;

export async function startGenealogyDemo(options: {
  natsUrl: string;
  print: (line: string) => void;
}): Promise<GenealogyDemo> {
  const { print } = options;
  const dataDir = mkdtempSync(join(tmpdir(), "threadline-demo-genealogy-"));
  const token = randomBytes(24).toString("hex");
  let service: RunningService;
  try {
    service = await startGenealogyBuilder({
      NATS_URL: options.natsUrl,
      GENEALOGY_API_TOKEN: token,
      GENEALOGY_DATA_DIR: dataDir,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: "silent",
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  print(`genealogy builder: running (${service.url}/genealogy, embedded PostgreSQL in ${dataDir})`);
  const client = GenealogyClient.fromFlags({ url: service.url }, { GENEALOGY_TOKEN: token });
  const trace = (lot: string, product: string, direction: "backward" | "forward") =>
    client.get<TraceResult>(`/genealogy/lots/${encodeURIComponent(lot)}/trace`, { direction, product });
  /** Polls the graph until `ok` holds for the lot's forward trace. */
  const waitFor = async (what: string, lot: string, product: string, ok: (t: TraceResult) => boolean) => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const t = await trace(lot, product, "forward").catch(() => undefined);
      if (t && ok(t)) return t;
      if (Date.now() > deadline)
        throw new Error(`the genealogy did not show ${what} within ${WAIT_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const indent = (text: string) => {
    for (const l of text.trimEnd().split("\n")) print(`  ${l}`);
  };

  return {
    url: service.url,
    token,
    async shipAndTrace(sim, product, lot, beforeShip) {
      const made = await waitFor(`the lot ${lot}`, lot, product, (t) => t.root.quantity !== null);
      const half = Math.floor(Number(made.root.quantity?.value ?? "0") / 2);
      // A customer the plant already delivers to (the seed's open deliveries name them).
      const [open] = await sim.env.searchRead(
        "stock.picking",
        [["picking_type_code", "=", "outgoing"]],
        ["partner_id"],
      );
      const partner = Array.isArray(open?.["partner_id"]) ? Number(open["partner_id"][0]) : undefined;
      if (half < 1 || partner === undefined) {
        print(`  (no shipment: ${half < 1 ? `lot ${lot} holds nothing to ship` : "no customer in Odoo"})`);
        return;
      }
      const delivery: PreparedDelivery = await prepareDelivery(
        sim.env,
        sim.version,
        product,
        half,
        partner,
        "SO-DEMO-1",
      );
      print(
        `  Odoo: delivery ${delivery.name} of ${half} ${product} prepared; Odoo reserved lot ${delivery.lots.join(", ")}`,
      );
      await waitFor(`the delivery ${delivery.name} requested`, lot, product, (t) =>
        t.shipments.some((s) => s.pickingRef === delivery.name),
      );
      await beforeShip?.(delivery);
      await shipDelivery(sim.env, sim.version, delivery);
      print(`  Odoo: ${delivery.name} validated: the jars left`);
      await waitFor(`the delivery ${delivery.name} shipped`, lot, product, (t) =>
        t.shipments.some((s) => s.pickingRef === delivery.name && s.status === "SHIPPED"),
      );
      print(`threadline genealogy trace ${lot} --backward:`);
      const back = await trace(lot, product, "backward");
      indent(traceTree(back));
      print(`threadline genealogy trace ${lot} --forward:`);
      indent(traceTree(await trace(lot, product, "forward")));
      const component = back.lots.find((l) => l.depth === 1 && l.lot !== "");
      if (!component) return;
      print(`threadline genealogy recall ${component.lot}:`);
      indent(
        recallText(
          await client.get<RecallReport>(`/genealogy/lots/${encodeURIComponent(component.lot)}/recall`, {
            product: component.product,
          }),
        ),
      );
    },
    async stop() {
      await service.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
