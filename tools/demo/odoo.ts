/**
 * The demo's ERP side: the Odoo simulator (Odoo 17's external API over HTTP) and the Odoo connector
 * service. A planner releases two manufacturing orders in Odoo; the connector's inbound sync turns
 * them into ProductionOrderReleased events, which the demo dispatches to the plant's lines; the
 * machines' counts come back through the bridge as ProductionReported, which the connector posts
 * in Odoo (ProductionPosted). At the end Odoo's quantities are reconciled with the event log.
 */
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../contracts/src/codec.js";
import type { EventPayloads } from "../../contracts/src/events.generated.js";
import { startOdooConnector } from "../../services/odoo-connector/src/main.js";
import { OdooClient } from "../../services/odoo-connector/src/odoo/client.js";
import { reconcile } from "../../services/odoo-connector/src/reconcile/index.js";
import { fromHeaders } from "../../streams/src/envelope.js";
import { DLQ_HEADERS, DLQ_STREAM, dlqSubject } from "../../streams/src/names.js";
import type { RunningService } from "../../streams/src/service.js";
import { startOdooSimulator } from "../sim/odoo/server.js";

type Released = EventPayloads["mfg.production.production_order_released.v1"];
type Posted = EventPayloads["mfg.production.production_posted.v1"];

/** What the planner releases: one order per line of the demo plant, big enough for the whole run. */
const RELEASES = [
  { line: "line-1", product: "FIN-CC100", quantity: 5_000, workcenter: "ASM1" }, // lot-tracked
  { line: "line-2", product: "FIN-SB20", quantity: 5_000, workcenter: "PACK" },
] as const;

export interface OdooDemo {
  /** Released order and lot per plant line, as the events said. */
  readonly orderByLine: ReadonlyMap<string, { order: string; lot: string | null }>;
  /** Waits until every production report with an order is posted, then prints Odoo's side. */
  finish(): Promise<void>;
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
  try {
    print(`Odoo simulator: Odoo ${sim.profile.version} external API at ${sim.url} (database ${sim.db})`);
    connector = await startOdooConnector(
      {
        NATS_URL: options.natsUrl,
        ODOO_URL: sim.url,
        ODOO_DB: sim.db,
        ODOO_LOGIN: sim.credentials.login,
        ODOO_API_KEY: sim.credentials.apiKey,
        SITE: "plant-lyon",
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        LOG_LEVEL: "silent",
        SYNC_POLL_INTERVAL_MS: "1000",
        // A local simulator: no need for the production defaults' gentleness (4 in flight, 20/s).
        ODOO_CONCURRENCY: "8",
        ODOO_RATE_PER_SECOND: "500",
        WORKCENTER_BY_LINE: JSON.stringify(Object.fromEntries(RELEASES.map((r) => [r.line, r.workcenter]))),
      },
      { handleSignals: false },
    );
    print(`Odoo connector: running (${connector.url}), syncing orders, lots, moves and pickings`);

    // The planner releases the orders in Odoo (over the simulator's own API: as a user would).
    const released = new Map<string, { order: string; lot: string | null }>();
    for (const r of RELEASES) {
      const [product] = await sim.env.search("product.product", [["default_code", "=", r.product]]);
      const id = await sim.env.create("mrp.production", {
        product_id: product,
        product_qty: r.quantity,
        origin: "demo",
      });
      await sim.env.call("mrp.production", "action_confirm", [[id]]);
      const [mo] = (await sim.env.read("mrp.production", [id], ["name"])) as { name: string }[];
      released.set(mo?.name ?? "", { order: mo?.name ?? "", lot: null });
    }
    const orderByLine = new Map<string, { order: string; lot: string | null }>();
    const js = jetstream(nc);
    const releases = await js.consumers.get("MFG_PRODUCTION", {
      filter_subjects: "mfg.production.production_order_released.>",
      deliver_policy: DeliverPolicy.All,
    });
    const deadline = Date.now() + 30_000;
    while (orderByLine.size < RELEASES.length && Date.now() < deadline) {
      const batch = await releases.fetch({ max_messages: 100, expires: 1_000 });
      for await (const m of batch) {
        const e = (await codec.decode<Released>(m.data, { as: fromHeaders(m.headers).type })).value;
        const mine = RELEASES.find((r) => released.has(e.orderRef) && r.product === e.product.code);
        print(
          `  MFG_PRODUCTION #${m.seq}  released ${e.orderRef}: ${Number(e.quantity.value)} ${e.quantity.uom} of ${e.product.code}${mine ? ` -> dispatched to ${mine.line}` : ""}`,
        );
        if (!mine) continue;
        // Lot-tracked products get a lot per order (Odoo creates it on the first posting).
        const lot = mine.product === "FIN-CC100" ? `LOT-${e.orderRef.replaceAll("/", "-")}` : null;
        orderByLine.set(mine.line, { order: e.orderRef, lot });
      }
    }
    if (orderByLine.size < RELEASES.length)
      throw new Error("the released orders did not arrive as events within 30 s");

    // ProductionPosted as they land: the ERP accepted a machine's count.
    const posted = await js.consumers.get("MFG_PRODUCTION", {
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
        if (postings <= 12 || postings % 25 === 0)
          print(
            `  MFG_PRODUCTION #${m.seq}  posted in Odoo: ${Number(e.postedGoodQuantity.value)} good on ${e.orderRef}${e.lot ? ` lot ${e.lot}` : ""} -> ${e.odooRecords.map((r) => `${r.model} ${r.name ?? r.id}`).join(", ")}`,
          );
      }
    })();

    const finish = async () => {
      // Every report with an order and a good quantity becomes one posting: wait until none is left.
      const client = await OdooClient.connect({
        url: sim.url,
        db: sim.db,
        login: sim.credentials.login,
        apiKey: sim.credentials.apiKey,
      });
      try {
        // The plant ran faster than real time: its reports carry source times up to minutes ahead.
        const window = { since: new Date(Date.now() - 3_600_000), until: new Date(Date.now() + 3_600_000) };
        const deadline = Date.now() + 60_000;
        const dispatched = new Set([...orderByLine.values()].map((o) => o.order));
        const mine = async () =>
          (await reconcile({ nc, codec, client, ...window })).orders.filter((o) =>
            dispatched.has(o.orderRef),
          );
        let orders = await mine();
        while (orders.some((o) => o.waiting.length > 0) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          orders = await mine();
        }
        print(`Odoo: ${postings} postings; reconciliation of the event log with Odoo:`);
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
        const dead = await jetstreamManager(nc).then((jsm) =>
          jsm.streams.getMessage(DLQ_STREAM, {
            last_by_subj: dlqSubject("MFG_PRODUCTION", "odoo-connector-production-reported"),
          }),
        );
        if (dead)
          print(
            `  dead-lettered by the connector: ${dead.header.get(DLQ_HEADERS.code)} — ${dead.header.get(DLQ_HEADERS.message)}`,
          );
      } finally {
        await client.close();
      }
    };
    const stop = async () => {
      for (const t of taps) await t.close().catch(() => undefined);
      await connector?.stop();
      await sim.stop();
    };
    return { orderByLine, finish, stop };
  } catch (err) {
    for (const t of taps) await t.close().catch(() => undefined);
    await connector?.stop();
    await sim.stop();
    throw err;
  }
}
