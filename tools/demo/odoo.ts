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
import { startService as startOrchestrator } from "../../services/production-orchestrator/src/main.js";
import {
  DLQ_STREAM,
  dlqSubject,
  fromHeaders,
  MasterData,
  type RunningService,
  readDeadLetter,
  readStream,
} from "../../streams/src/index.js";
import { type OrderStatus, ordersStatus } from "../cli/orders.js";
import { receiveStock } from "../sim/odoo/scenarios.js";
import { type OdooSimulator, startOdooSimulator } from "../sim/odoo/server.js";
import { type ConsoleDemo, startConsoleDemo } from "./console.js";
import { type GenealogyDemo, startGenealogyDemo } from "./genealogy.js";
import { familyOf, orderAgainstPlant, type PlantTruth, printOrderViews } from "./odoo-vs-plant.js";
import { LINE_RELEASES, planFromMasterData, WORKCENTER_BY_MACHINE } from "./plant-orders.js";
import { type QualityDemo, startQualityDemo } from "./quality.js";

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

/** The component one demo order runs short of. */
const SHORT_COMPONENT = "COMP-WRP";

export async function startOdooDemo(options: {
  nc: NatsConnection;
  natsUrl: string;
  codec: EventCodec;
  print: (line: string) => void;
  /** Line → the machines the orchestrator writes the order to (the bridge mapping's setOrder commands). */
  dispatchMachines: Readonly<Record<string, readonly string[]>>;
}): Promise<OdooDemo> {
  const { nc, codec, print } = options;
  // The seed's wrappers cover a fifth of the granola order: it runs short until stock arrives.
  const sim = await startOdooSimulator({ profile: 17, onHand: { [SHORT_COMPONENT]: 1_000 } });
  let connector: RunningService | undefined;
  let orchestrator: RunningService | undefined;
  let genealogy: GenealogyDemo | undefined;
  let quality: QualityDemo | undefined;
  let consoleDemo: ConsoleDemo | undefined;
  const taps: { close(): Promise<void> }[] = [];
  const stop = async () => {
    for (const t of taps) await t.close().catch(() => undefined);
    await consoleDemo?.stop();
    await quality?.stop();
    await genealogy?.stop();
    await orchestrator?.stop();
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
    // The connector's quality checks on blocked deliveries need Quality / User (its README): the
    // administrator adds the integration user to it.
    const [integrationUid] = await sim.env.search("res.users", [["login", "=", sim.users.integration.login]]);
    await sim.env.write("res.users", [integrationUid as number], {
      [sim.profile.version >= 19 ? "group_ids" : "groups_id"]: [
        [4, sim.env.ref("quality.group_quality_user")],
      ],
    });
    print(
      `  Odoo: the administrator adds ${sim.users.integration.login} to Quality / User (quality checks on deliveries)`,
    );
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

    // The production orchestrator runs the orders from here: material check, dispatch to the lines'
    // machines through the bridge, running, completed, closed. Its transitions are printed as they land.
    orchestrator = await startOrchestrator({
      NATS_URL: options.natsUrl,
      SITE: "plant-lyon",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: "silent",
      DISPATCH_MACHINES: JSON.stringify(options.dispatchMachines),
      FIRST_ARTICLE_PRODUCTS: JSON.stringify(["FIN-HJ250"]),
      SWEEP_INTERVAL_MS: "500",
      DISPATCH_RETRY_MS: "3000",
    });
    print(`production orchestrator: running (${orchestrator.url}); dispatches through the machine bridge`);
    // The lot graph of everything that follows, from the streams.
    genealogy = await startGenealogyDemo({ natsUrl: options.natsUrl, print });
    // SPC on the drifting filler, holds through the lot graph, the shipment gate (./quality.ts).
    quality = await startQualityDemo({
      nc,
      natsUrl: options.natsUrl,
      codec,
      print,
      genealogy: { url: genealogy.url, token: genealogy.token },
    });
    // The ops console, beside them: a newcomer watches the run in a browser (./console.ts).
    consoleDemo = await startConsoleDemo({
      natsUrl: options.natsUrl,
      print,
      env: {
        QUALITY_URL: quality.url,
        QUALITY_API_TOKEN: quality.token,
        GENEALOGY_URL: genealogy.url,
        GENEALOGY_API_TOKEN: genealogy.token,
        ODOO_CONNECTOR_URL: connector.url,
      },
    });
    await tapOrchestrator(nc, codec, print, taps);

    // The planner releases the orders in Odoo (over the simulator's own API: as a user would).
    const idByRef = new Map<string, number>();
    for (const r of plan) {
      const [product] = await sim.env.search("product.product", [["default_code", "=", r.product]]);
      const id = await sim.env.create("mrp.production", {
        product_id: product,
        product_qty: r.quantity,
        origin: "demo",
      });
      await sim.env.call("mrp.production", "action_confirm", [[id]]);
      const [mo] = (await sim.env.read("mrp.production", [id], ["name"])) as { name: string }[];
      idByRef.set(mo?.name ?? "", id);
      print(`  Odoo: the planner confirms ${mo?.name}: ${r.quantity} ${r.product} (meant for ${r.line})`);
    }
    // The demo's orders and their backorders (Odoo names them <order>-002).
    const status = async () =>
      (await ordersStatus(nc, { all: true })).filter((o) => idByRef.has(o.orderRef.replace(/-\d{3}$/, "")));
    const waitFor = async (what: string, ok: (rows: OrderStatus[]) => boolean) => {
      const deadline = Date.now() + 45_000;
      while (Date.now() < deadline) {
        if (ok(await status())) return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(
        `the orchestrator did not reach "${what}" within 45 s: ${JSON.stringify(await status())}`,
      );
    };
    // One line's order is short of wrappers (the seed has 1,000 of the 5,000 it needs): it waits.
    await waitFor(
      "one order dispatched, the other waiting for material",
      (rows) => rows.some((o) => o.step === "DISPATCHED") && rows.some((o) => o.waitingFor === "MATERIAL"),
    );
    const short = (await status()).find((o) => o.waitingFor === "MATERIAL") as OrderStatus;
    print(`  ${short.orderRef} waits: ${short.reason}`);
    // Stock arrives; the planner presses "Check availability" (Odoo reserves arrived stock for waiting
    // orders only then, or with its scheduler).
    await receiveStock(sim.env, sim.profile.version, SHORT_COMPONENT, 4_000);
    await sim.env.call("mrp.production", "action_assign", [[idByRef.get(short.orderRef) as number]]);
    print(
      `  Odoo: 4,000 ${SHORT_COMPONENT} received; the planner presses Check availability on ${short.orderRef}`,
    );
    await waitFor(
      "every order dispatched",
      (rows) => rows.length === plan.length && rows.every((o) => o.step === "DISPATCHED"),
    );
    const orderByLine = new Map<string, { order: string; lot: string | null }>();
    for (const o of await status()) if (o.line) orderByLine.set(o.line, { order: o.orderRef, lot: o.lot });

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
        // Odoo's done reaches the orchestrator through the inbound sync: closed within a few seconds.
        const closedBy = Date.now() + 15_000;
        while (
          Date.now() < closedBy &&
          !(await status()).filter((o) => idByRef.has(o.orderRef)).every((o) => o.step === "CLOSED")
        )
          await new Promise((r) => setTimeout(r, 250));
        print("threadline orders status --all:");
        for (const o of await status())
          print(
            `  ${o.orderRef.padEnd(16)} ${o.product.padEnd(10)} ${(o.line ?? "-").padEnd(7)} ${o.step}${o.waitingFor ? ` waiting for ${o.waitingFor}: ${o.reason}` : o.reason ? ` (${o.reason})` : ""}`,
          );
        // The reports of the first part of the demo name an order Odoo does not have: dead letters.
        for (const dead of await deadLetters(nc))
          print(`  dead-lettered by the connector: ${dead.code} — ${dead.message}`);
        // The honey jars leave for a customer; then where they came from and where they went.
        const jars = LINE_RELEASES.find((r) => r.line === "line-1");
        const jarLot = orderByLine.get("line-1")?.lot;
        const odoo = { env: sim.env, version: sim.profile.version };
        if (jars && jarLot)
          await genealogy?.shipAndTrace(odoo, jars.product, jarLot, (delivery) =>
            quality ? quality.gate(odoo, delivery) : Promise.resolve(),
          );
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
      `production orchestrator: ${orchestrator?.url}/metrics (npx threadline orders status)`,
      `genealogy builder: ${genealogy?.url}/genealogy/openapi.json (GENEALOGY_TOKEN=${genealogy?.token} npx threadline genealogy trace <lot> --backward --url ${genealogy?.url})`,
      ...(quality?.describe() ?? []),
      ...(consoleDemo ? [consoleDemo.describe()] : []),
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

/** The orchestrator's events as they land: transitions, shortages, dispatches with each machine's answer. */
async function tapOrchestrator(
  nc: NatsConnection,
  codec: EventCodec,
  print: (line: string) => void,
  taps: { close(): Promise<void> }[],
): Promise<void> {
  const consumer = await jetstream(nc).consumers.get("MFG_PRODUCTION", {
    filter_subjects: "mfg.production.>",
    deliver_policy: DeliverPolicy.New,
  });
  const messages = await consumer.consume();
  taps.push({ close: async () => void (await messages.close()) });
  void (async () => {
    for await (const m of messages) {
      const type = fromHeaders(m.headers).type;
      if (type === "mfg.production.order_step_changed.v1") {
        const e = (await codec.decode<EventPayloads[typeof type]>(m.data, { as: type })).value;
        print(
          `  MFG_PRODUCTION #${m.seq}  ${e.orderRef} ${e.previousStep ?? "-"} -> ${e.step}${e.waitingFor ? ` (waiting for ${e.waitingFor})` : ""}${e.reason ? `: ${e.reason}` : ""}`,
        );
      } else if (type === "mfg.production.material_shortage_detected.v1") {
        const e = (await codec.decode<EventPayloads[typeof type]>(m.data, { as: type })).value;
        print(
          `  MFG_PRODUCTION #${m.seq}  MaterialShortageDetected ${e.orderRef}: ${e.shortages.map((x) => `${x.product.code} ${Number(x.missing.value)} ${x.missing.uom} missing`).join(", ")}`,
        );
      } else if (type === "mfg.production.order_dispatched.v1") {
        const e = (await codec.decode<EventPayloads[typeof type]>(m.data, { as: type })).value;
        print(
          `  MFG_PRODUCTION #${m.seq}  OrderDispatched ${e.orderRef} lot ${e.lot ?? "-"} to ${e.equipment.line}: ${e.machines.map((x) => `${x.machine} ${x.outcome}`).join(", ")}`,
        );
      }
    }
  })();
}
