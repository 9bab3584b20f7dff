/**
 * The demo's ERP side: the Odoo simulator (Odoo 17's external API over HTTP), set up for Threadline
 * (`threadline odoo setup`) and the Odoo connector as its integration user. A planner releases two
 * manufacturing orders in Odoo; the connector's inbound sync turns them into ProductionOrderReleased
 * events, which the demo dispatches to the plant's lines; the machines' counts come back through the
 * bridge and are posted on the open orders, each machine's running time on its own work centre; when
 * the plant's runs end the orders are closed with one backorder each. At the end the demo prints what
 * a planner sees in Odoo against the plant's ground truth, and reconciles.
 */

import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import type { EventCodec, EventPayloads } from "../../contracts/src/index.js";
import { startOdooConnector } from "../../services/odoo-connector/src/main.js";
import { CONNECTOR_DURABLES } from "../../services/odoo-connector/src/manifest.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/client.js";
import { setupOdoo } from "../../services/odoo-connector/src/odoo-setup.js";
import { reconcile } from "../../services/odoo-connector/src/reconcile/index.js";
import {
  DLQ_STREAM,
  dlqSubject,
  fromHeaders,
  MasterData,
  type RunningService,
  readDeadLetter,
  readEvents,
  readStream,
} from "../../streams/src/index.js";
import { type OdooSimulator, startOdooSimulator } from "../sim/odoo/server.js";
import { familyOf, orderAgainstPlant, type PlantTruth, printOrderViews } from "./odoo-vs-plant.js";
import { LINE_RELEASES, lotFor, planFromMasterData, WORKCENTER_BY_MACHINE } from "./plant-orders.js";

type Posted = EventPayloads["mfg.production.production_posted.v1"];

export interface OdooDemo {
  /** Released order and lot per plant line, as the events said. */
  readonly orderByLine: ReadonlyMap<string, { order: string; lot: string | null }>;
  /** Waits until the counts and the run ends are posted, then prints Odoo's side and reconciles. */
  finish(truth: PlantTruth): Promise<void>;
  /** Where each part can be reached (for `--hold`). */
  describe(): string[];
  stop(): Promise<void>;
}

export async function startOdooDemo(options: {
  nc: NatsConnection;
  natsUrl: string;
  codec: EventCodec;
  print: (line: string) => void;
}): Promise<OdooDemo> {
  const { nc, codec, print } = options;
  const sim = await startOdooSimulator({ profile: 17 });
  let connector: RunningService | undefined;
  const taps: { close(): Promise<void> }[] = [];
  const stop = async () => {
    for (const t of taps) await t.close().catch(() => undefined);
    await connector?.stop();
    await sim.stop();
  };
  try {
    print(`Odoo simulator: Odoo ${sim.profile.version} external API at ${sim.url} (database ${sim.db})`);
    const admin = await connect(sim, sim.users.admin);
    try {
      const actions = await setupOdoo(admin);
      print(
        `threadline odoo setup: ${actions.filter((a) => a.done !== "ok").length} changes (posting model x_threadline_posting, event-id fields, not copied)`,
      );
    } finally {
      await admin.close();
    }
    connector = await startOdooConnector(
      {
        NATS_URL: options.natsUrl,
        ODOO_URL: sim.url,
        ODOO_DB: sim.db,
        // The integration user: exactly Manufacturing / User.
        ODOO_LOGIN: sim.users.integration.login,
        ODOO_API_KEY: sim.users.integration.apiKey,
        SITE: "plant-lyon",
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        LOG_LEVEL: "silent",
        SYNC_POLL_INTERVAL_MS: "1000",
        // A local simulator: no need for the production defaults' gentleness.
        ODOO_CONCURRENCY: "8",
        ODOO_RATE_PER_SECOND: "500",
        WORKCENTER_BY_LINE: JSON.stringify(WORKCENTER_BY_MACHINE),
      },
      { handleSignals: false },
    );
    print(
      `Odoo connector: running as ${sim.users.integration.login} (${connector.url}), syncing orders, lots, moves and pickings`,
    );

    // What the demo's products are comes from the master data the connector published from Odoo.
    const masterData = MasterData.open(nc, { kinds: ["product", "bom"], site: "plant-lyon", codec });
    const plan = await planFromMasterData(masterData).finally(() => masterData.close());
    for (const r of plan)
      print(
        `  MFG_MASTERDATA  ${r.product} "${r.productRecord.name}": in ${r.productRecord.unit}, tracked by ${r.productRecord.tracking}, BoM ${r.components.join(", ")}`,
      );

    // The planner releases the orders in Odoo (over the simulator's own API: as a user would).
    const released = new Set<string>();
    for (const r of plan) {
      const [product] = await sim.env.search("product.product", [["default_code", "=", r.product]]);
      const id = await sim.env.create("mrp.production", {
        product_id: product,
        product_qty: r.quantity,
        origin: "demo",
      });
      await sim.env.call("mrp.production", "action_confirm", [[id]]);
      const [mo] = (await sim.env.read("mrp.production", [id], ["name"])) as { name: string }[];
      released.add(mo?.name ?? "");
    }
    const orderByLine = new Map<string, { order: string; lot: string | null }>();
    // The inbound sync publishes the releases within a sync interval: read what is stored, then again
    // from where that read ended, until every release arrived.
    let next = 1;
    const deadline = Date.now() + 30_000;
    while (orderByLine.size < LINE_RELEASES.length && Date.now() < deadline) {
      const releases = readEvents(nc, {
        stream: "MFG_PRODUCTION",
        filter: "mfg.production.production_order_released.>",
        fromSequence: next,
        codec,
        types: ["mfg.production.production_order_released.v1"],
      });
      for await (const { streamSequence, value: e } of releases) {
        next = streamSequence + 1;
        const mine = plan.find((r) => released.has(e.orderRef) && r.product === e.product.code);
        print(
          `  MFG_PRODUCTION #${streamSequence}  released ${e.orderRef}: ${Number(e.quantity.value)} ${e.quantity.uom} of ${e.product.code}${mine ? ` -> dispatched to ${mine.line}` : ""}`,
        );
        if (!mine) continue;
        orderByLine.set(mine.line, { order: e.orderRef, lot: lotFor(mine, e.orderRef) });
      }
      if (orderByLine.size < LINE_RELEASES.length) await new Promise((r) => setTimeout(r, 250));
    }
    if (orderByLine.size < LINE_RELEASES.length)
      throw new Error("the released orders did not arrive as events within 30 s");

    // ProductionPosted as they land: Odoo accepted a machine's count.
    const posted = await jetstream(nc).consumers.get("MFG_PRODUCTION", {
      filter_subjects: "mfg.production.production_posted.>",
      deliver_policy: DeliverPolicy.New,
    });
    const postedMessages = await posted.consume();
    taps.push({ close: async () => void (await postedMessages.close()) });
    let postings = 0;
    void (async () => {
      for await (const m of postedMessages) {
        const e = (await codec.decode<Posted>(m.data, { as: fromHeaders(m.headers).type })).value;
        postings++;
        if (postings <= 8 || postings % 25 === 0)
          print(
            `  MFG_PRODUCTION #${m.seq}  posted in Odoo: ${Number(e.postedGoodQuantity.value)} good on ${e.orderRef}${e.lot ? ` lot ${e.lot}` : ""} -> ${e.odooRecords.map((r) => `${r.model} ${r.name ?? r.id}`).join(", ")}`,
          );
      }
    })();

    const finish = async (truth: PlantTruth) => {
      const client = await connect(sim, sim.users.admin);
      try {
        // The plant ran faster than real time: its reports carry source times up to minutes ahead.
        const window = { since: new Date(Date.now() - 3_600_000), until: new Date(Date.now() + 3_600_000) };
        const dispatched = new Set([...orderByLine.values()].map((o) => o.order));
        const mine = async () =>
          (
            await reconcile({ nc, codec, client, ...window, workcenterByLine: WORKCENTER_BY_MACHINE })
          ).orders.filter((o) => dispatched.has(o.orderRef));
        const closed = async () => {
          for (const { order } of orderByLine.values()) {
            const family = await familyOf(client, order);
            if (!family.some((m) => m.state === "done")) return false;
          }
          return true;
        };
        const until = Date.now() + 60_000;
        let orders = await mine();
        while ((orders.some((o) => o.waiting.length > 0) || !(await closed())) && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 500));
          orders = await mine();
        }
        print(`Odoo, as a planner sees it (${postings} postings), against the plant's ground truth:`);
        for (const r of LINE_RELEASES) {
          const dispatched = orderByLine.get(r.line);
          if (!dispatched) continue;
          const order = {
            ref: dispatched.order,
            countingPoint: r.countingPoint,
            componentScrap: r.componentScrap,
          };
          printOrderViews(await orderAgainstPlant(client, order, truth), print);
        }
        print("reconciliation of the event log with Odoo:");
        for (const o of orders) {
          print(
            `  ${o.orderRef}: counting point good ${o.counted.good}, rejected ${o.counted.reject}; ${o.posted} reports in Odoo${o.waiting.length ? `, ${o.waiting.length} not posted yet` : ""}`,
          );
          for (const f of o.findings) print(`    ${f.kind}: ${f.message}`);
        }
        print(
          orders.every((o) => o.findings.length === 0 && o.waiting.length === 0) ? "  no drift" : "  DRIFT",
        );
        // The reports of the first part of the demo name an order Odoo does not have: dead letters.
        for (const dead of await deadLetters(nc))
          print(`  dead-lettered by the connector: ${dead.code} — ${dead.message}`);
      } finally {
        await client.close();
      }
    };
    const describe = () => [
      `Odoo (simulated ${sim.profile.serverVersion}): ${sim.url}  database ${sim.db}`,
      `  administrator ${sim.users.admin.login} / password ${sim.users.admin.password} / API key ${sim.users.admin.apiKey}`,
      `  integration user ${sim.users.integration.login} / API key ${sim.users.integration.apiKey} (Manufacturing / User)`,
      `  faults and snapshots: ${sim.url}/__sim/faults (X-Sim-Token: ${sim.adminToken})`,
      `Odoo connector: ${connector?.url}/metrics, /readyz, /healthz`,
    ];
    return { orderByLine, finish, describe, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function connect(sim: OdooSimulator, user: { login: string; apiKey: string }): Promise<OdooClient> {
  return OdooClient.connect({
    url: sim.url,
    db: sim.db,
    login: user.login,
    apiKey: user.apiKey,
    registry: new Registry(),
  });
}

/** The production durable's dead letters (code and message), oldest first. */
async function deadLetters(nc: NatsConnection): Promise<{ code: string; message: string }[]> {
  const out: { code: string; message: string }[] = [];
  const filter = dlqSubject("MFG_PRODUCTION", CONNECTOR_DURABLES.production);
  await readStream(nc, { stream: DLQ_STREAM, filter, headersOnly: true, ifMissing: "empty" }, (m) => {
    const { code, message } = readDeadLetter(m);
    out.push({ code, message });
  });
  return out;
}
