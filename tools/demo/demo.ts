/**
 * `make demo`: a local nats-server (or $NATS_URL), the contracts registered in the schema
 * registry, a short production run published as canonical events and read back, a service on the
 * SDK tracking it; then the ERP and the shop floor: orders released in the Odoo simulator become
 * events (./odoo.ts), run on the plant simulator through the machine bridge (./plant.ts), and the
 * machines' counts are posted back in Odoo by the connector. The filler's temperature drifts: the
 * quality service holds the lot, and its delivery is blocked in Odoo until the hold is released
 * (./quality.ts).
 */

import { AckPolicy, jetstream, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  Catalog,
  EventCodec,
  type EventPayloads,
  SchemaRegistry,
  toJson,
} from "../../contracts/src/index.js";
import {
  ORDER_PROGRESS_BUCKET,
  type OrderProgress,
  orderKey,
  startOrderProgress,
} from "../../streams/examples/order-progress.js";
import {
  applyPlan,
  connectNats,
  DLQ_STREAM,
  dlqSubject,
  EventPublisher,
  natsSettingsFromEnv,
  planChanges,
  planSummary,
  readDeadLetter,
  readEvents,
  serverFacts,
} from "../../streams/src/index.js";
import { startNatsServer } from "../local-nats/index.js";
import { platformDeclarations } from "../manifests.js";
import { startOdooDemo } from "./odoo.js";
import { startPlantDemo } from "./plant.js";
import { QUALITY_DRIFT } from "./quality.js";

export interface DemoOptions {
  /** A server to use instead of starting one. @default $NATS_URL, else a local nats-server */
  natsUrl?: string;
  /** Where to print. @default process.stdout */
  print?: (line: string) => void;
  /** How long the plant runs (plant time and speed). @default 90 s at 15x */
  plant?: { virtualMs?: number; speed?: number };
  /**
   * After the scenario, leave everything running and print how to reach each part: until SIGINT /
   * SIGTERM (`true`), or until the promise given settles. @default false
   */
  hold?: boolean | Promise<unknown>;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearInterval(alive);
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    const alive = setInterval(() => undefined, 60_000);
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}

const SITE = "plant1";
const LINE = "line1";
const MACHINE = "filler1";
const equipment = { site: SITE, area: "packaging", line: LINE, cell: null, machine: MACHINE };
const kg = (value: string) => ({ value, uom: "kg" });
const units = (value: string) => ({ value, uom: "Units" });

/** One line a person can read, for the events the demo sends; JSON for the rest. */
// biome-ignore lint/suspicious/noExplicitAny: the JSON form of several event types
function describe(type: string, e: Record<string, any>): string {
  const num = (q: { value: string; uom: string }) => `${Number(q.value)} ${q.uom}`;
  switch (type) {
    case "mfg.production.production_order_released.v1":
      return `order ${e.orderRef} released: ${num(e.quantity)} of ${e.product.code} on ${e.equipment.line}, lot ${e.lotToProduce}, ${e.components.length} components`;
    case "mfg.production.production_reported.v1":
      return `${e.equipment.machine} reported ${num(e.goodQuantity)} good, ${num(e.rejectQuantity)} reject for ${e.orderRef} (counter ${e.goodCounterFrom} -> ${e.goodCounterTo})`;
    case "mfg.machine.machine_state_changed.v1":
      return `${e.equipment.machine} ${e.previousState} -> ${e.state}${e.stopReason ? ` (${e.stopReason.code}: ${e.stopReason.text})` : ""}`;
    default:
      return JSON.stringify(e).slice(0, 140);
  }
}

export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const url = options.natsUrl ?? process.env["NATS_URL"];
  const server = url ? undefined : await startNatsServer();
  const settings = natsSettingsFromEnv(
    url ? { ...process.env, NATS_URL: url } : { NATS_URL: server?.clientUrl },
  );
  print(
    server
      ? `started nats-server ${server.clientUrl} (JetStream in ${server.storeDir})`
      : `using NATS at ${settings.servers.join(",")}`,
  );
  let nc: NatsConnection | undefined;
  try {
    nc = await connectNats({ ...settings, name: "threadline-demo" });
    const catalog = Catalog.load();
    const registry = await SchemaRegistry.open(nc);
    for (const c of catalog.list()) {
      const r = await registry.register(c.eventType, c.text);
      if (r.created) print(`registered ${c.eventType} v${r.version} (${r.fingerprint})`);
    }
    print(`schema registry holds ${(await registry.list()).length} subjects`);

    // The streams, consumers and KV buckets exactly as declared in streams/ (local profile: 1 replica).
    const jsm = await jetstreamManager(nc);
    const plan = await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc));
    await applyPlan(jsm, plan, { force: false });
    const counts = planSummary(plan);
    print(
      `streams as code: ${counts.create} created, ${counts.update} updated, ${counts.unchanged} unchanged`,
    );
    const js = jetstream(nc);
    const codec = new EventCodec({ catalog, writers: registry });
    const publisher = new EventPublisher(js, codec, { service: "demo", site: SITE });
    const t0 = Date.now();
    const at = (s: number) => new Date(t0 + s * 1000);
    const order = "WH/MO/00042";

    const released: EventPayloads["mfg.production.production_order_released.v1"] = {
      orderRef: order,
      odooOrderId: 42n,
      product: { code: "JAM-370", name: "Strawberry jam 370 g", odooId: 7n },
      quantity: units("1200"),
      plannedStartAt: at(0),
      plannedEndAt: at(3600),
      equipment: { ...equipment, machine: null },
      workCenterCode: "FILL-1",
      lotToProduce: "LOT-2026-1130-A",
      components: [
        {
          product: { code: "STRAWB", name: "Strawberries", odooId: 11n },
          quantity: kg("250.5"),
          lot: "RM-889",
        },
        { product: { code: "JAR-370", name: "Jar 370 ml", odooId: 12n }, quantity: units("1200"), lot: null },
      ],
      origin: "SO/0815",
      materials: null,
      releasedAt: at(0),
    };
    const sent = [
      await publisher.publish("mfg.production.production_order_released.v1", released, {
        site: SITE,
        line: LINE,
        key: order,
      }),
      await publisher.publish(
        "mfg.machine.machine_state_changed.v1",
        {
          equipment,
          state: "EXECUTE",
          previousState: "IDLE",
          mode: "PRODUCTION",
          stopReason: null,
          changedAt: at(60),
        },
        { site: SITE, line: LINE, machine: MACHINE, key: MACHINE },
      ),
      await publisher.publish(
        "mfg.production.production_reported.v1",
        {
          equipment,
          orderRef: order,
          lot: "LOT-2026-1130-A",
          goodQuantity: units("480"),
          rejectQuantity: units("6"),
          goodCounterFrom: 10_000n,
          goodCounterTo: 10_480n,
          rejectCounterFrom: 200n,
          rejectCounterTo: 206n,
          periodStartAt: at(60),
          reportedAt: at(900),
          countingPoint: true,
          rejectedComponent: null,
          running: [],
        },
        { site: SITE, line: LINE, machine: MACHINE, key: order },
      ),
      await publisher.publish(
        "mfg.machine.machine_state_changed.v1",
        {
          equipment,
          state: "HELD",
          previousState: "EXECUTE",
          mode: "PRODUCTION",
          stopReason: { code: "JAM", text: "Jar jam at capper" },
          changedAt: at(910),
        },
        { site: SITE, line: LINE, machine: MACHINE, key: MACHINE },
      ),
    ];
    print(`published ${sent.length} events:`);
    for (const p of sent) print(`  ${p.ack.stream} #${p.ack.seq}  ${p.subject}  id=${p.envelope.id}`);

    // A retry with the same ce-id is dropped by the server's duplicate window: nothing is posted twice.
    const again = await publisher.publish("mfg.production.production_order_released.v1", released, {
      site: SITE,
      line: LINE,
      key: order,
      id: sent[0]?.envelope.id as string,
    });
    print(
      `re-published the order release with the same ce-id: duplicate=${again.ack.duplicate} (stored once)`,
    );

    print("reading back:");
    for (const stream of ["MFG_PRODUCTION", "MFG_MACHINE"]) {
      for await (const e of readEvents(nc, { stream, codec })) {
        const json = toJson(e.schema, e.value) as Record<string, unknown>;
        print(
          `  ${stream} #${e.streamSequence} ${e.type} (schema v${e.writer.version}): ${describe(e.type, json)}`,
        );
      }
    }

    // A service on the SDK: the guide's example consumer tracks order progress from these events.
    await jsm.consumers.add("MFG_PRODUCTION", {
      durable_name: "order-progress",
      ack_policy: AckPolicy.Explicit,
      max_deliver: 5,
    });
    const service = await startOrderProgress({
      NATS_URL: settings.servers.join(","),
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: "0",
      LOG_LEVEL: "silent",
    });
    try {
      // Two reports whose good and reject counts use different units. Jars in Units and rejects in
      // Dozens convert exactly (the SDK's unit table: half a Dozen is 6 Units); rejects weighed in kg
      // cannot become Units, and the service refuses that report for good, naming both units.
      const mixed = (seconds: number, reject: { value: string; uom: string }, counter: bigint) =>
        publisher.publish(
          "mfg.production.production_reported.v1",
          {
            equipment,
            orderRef: order,
            lot: null,
            goodQuantity: units("20"),
            rejectQuantity: reject,
            goodCounterFrom: counter,
            goodCounterTo: counter + 20n,
            rejectCounterFrom: 206n,
            rejectCounterTo: 212n,
            periodStartAt: at(seconds - 60),
            reportedAt: at(seconds),
            countingPoint: true,
            rejectedComponent: null,
            running: [],
          },
          { site: SITE, line: LINE, machine: MACHINE, key: order },
        );
      await mixed(960, { value: "0.5", uom: "Dozens" }, 10_480n);
      const bad = await mixed(1020, kg("0.4"), 10_500n);
      const kv = await new Kvm(nc).open(ORDER_PROGRESS_BUCKET);
      const deadline = Date.now() + 15_000;
      let progress: OrderProgress | undefined;
      let dead: StoredMsg | null = null;
      while (Date.now() < deadline && ((progress?.applied.length ?? 0) < 3 || !dead)) {
        progress = (await kv.get(orderKey(order)))?.json<OrderProgress>();
        dead = await jsm.streams
          .getMessage(DLQ_STREAM, { last_by_subj: dlqSubject("MFG_PRODUCTION", "order-progress") })
          .catch(() => null);
        await new Promise((r) => setTimeout(r, 100));
      }
      print(`service order-progress (readiness ${(await fetch(`${service.url}/readyz`)).status}):`);
      print(
        `  ${order}: planned ${Number(progress?.planned)} ${progress?.uom}, good ${Number(progress?.good)}, reject ${Number(progress?.reject)} (${progress?.applied.length} events applied once each)`,
      );
      const letter = dead ? readDeadLetter(dead) : undefined;
      print(`  report #${bad.ack.seq} dead-lettered to ${DLQ_STREAM}: ${letter?.code} — ${letter?.message}`);
    } finally {
      await service.stop();
    }

    // The ERP: orders released in Odoo become events and are dispatched to the plant's lines; the
    // machines' counts go back to Odoo through the connector; the runs end and the orders close.
    // The plant first: its bridge must be there to take the orchestrator's order writes.
    // The filler's temperature drifts: the quality service's chart of it sees (./quality.ts).
    const plant = await startPlantDemo({ nc, codec, print, drift: QUALITY_DRIFT, ...(options.plant ?? {}) });
    try {
      const odoo = await startOdooDemo({
        nc,
        natsUrl: settings.servers.join(","),
        codec,
        print,
        dispatchMachines: plant.machinesByLine,
      });
      try {
        await plant.run();
        await plant.endRuns();
        await odoo.finish(plant.truth());
        print("demo done.");
        if (options.hold) {
          print("everything keeps running until Ctrl-C:");
          print(
            `NATS: ${settings.servers.join(",")} (npx threadline streams plan --server ${settings.servers[0]})`,
          );
          for (const l of odoo.describe()) print(l);
          print(`plant simulator (OPC UA): ${plant.endpointUrl} (anonymous; the plant stands still)`);
          await (options.hold === true ? untilSignal() : options.hold);
        }
      } finally {
        await odoo.stop();
      }
    } finally {
      await plant.stop();
    }
  } finally {
    await nc?.close();
    await server?.dispose();
  }
}
