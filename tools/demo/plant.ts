/**
 * The demo's shop floor: the plant simulator (a real OPC UA server) runs the demo plant, the
 * machine bridge subscribes to it and publishes machine and production events, which are printed
 * as they land in JetStream, and takes the production orchestrator's order writes to the machines; the bridged totals are set against the simulator's ground truth, then
 * the machines leave their orders (the counting points end their runs, the ERP closes the orders).
 */
import os from "node:os";
import path from "node:path";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import type { EventCodec, EventPayloads } from "../../contracts/src/index.js";
import { MachineBridge } from "../../services/machine-bridge/src/bridge.js";
import { parseBridgeConfig } from "../../services/machine-bridge/src/config.js";
import { EventPublisher, fromHeaders, readEvents, silentLogger } from "../../streams/src/index.js";
import { bridgeMappingFor } from "../sim/plant/bridge-mapping.js";
import type { PlantConfigInput } from "../sim/plant/config.js";
import { DEMO_PLANT } from "../sim/plant/demo-plant.js";
import { runFor } from "../sim/plant/run-for.js";
import { startPlantSimulator } from "../sim/plant/server.js";
import { type PlantTruth, plantTruth } from "./odoo-vs-plant.js";
import { withRejectedComponents } from "./plant-orders.js";

export interface PlantDemoOptions {
  nc: NatsConnection;
  codec: EventCodec;
  print: (line: string) => void;
  /** Plant time to run. @default 90000 (90 s) */
  virtualMs?: number;
  /** Plant time per real time. @default 15 */
  speed?: number;
  /**
   * One machine's tag drifting (the demo plant's config with this tag's `driftPerHour` changed; the
   * other tags, the counts and the random draws stay as they are). @default none
   */
  drift?: PlantDrift;
}

/** A tag of a machine whose mean drifts by `perHour` units per hour of plant time. */
export interface PlantDrift {
  readonly machine: string;
  readonly tag: string;
  readonly perHour: number;
}

/** The demo plant, with `drift` applied. */
export function demoPlantWith(drift: PlantDrift | undefined): PlantConfigInput {
  if (!drift) return DEMO_PLANT;
  let found = false;
  const config = {
    ...DEMO_PLANT,
    sites: DEMO_PLANT.sites?.map((site) => ({
      ...site,
      lines: site.lines.map((l) => ({
        ...l,
        machines: l.machines.map((m) =>
          m.id !== drift.machine
            ? m
            : {
                ...m,
                telemetry: m.telemetry?.map((t) => {
                  if (t.name !== drift.tag) return t;
                  found = true;
                  return { ...t, driftPerHour: drift.perHour };
                }),
              },
        ),
      })),
    })),
  };
  if (!found) throw new RangeError(`the demo plant has no tag ${drift.tag} on a machine ${drift.machine}`);
  return config;
}

type Payload<K extends keyof EventPayloads> = EventPayloads[K];

/** One readable line per event worth a person's attention; telemetry is only counted. */
function line(type: string, value: unknown): string | undefined {
  switch (type) {
    case "mfg.machine.machine_state_changed.v1": {
      const e = value as Payload<"mfg.machine.machine_state_changed.v1">;
      const reason = e.stopReason ? ` (${e.stopReason.code}: ${e.stopReason.text ?? "?"})` : "";
      return `${e.equipment.machine} ${e.previousState} -> ${e.state}${reason}`;
    }
    case "mfg.machine.downtime_ended.v1": {
      const e = value as Payload<"mfg.machine.downtime_ended.v1">;
      return `${e.equipment.machine} downtime over after ${(Number(e.durationMillis) / 1000).toFixed(1)} s (${e.reason?.code ?? "no reason"})`;
    }
    case "mfg.production.production_reported.v1": {
      const e = value as Payload<"mfg.production.production_reported.v1">;
      return `${e.equipment.machine} +${Number(e.goodQuantity.value)} good +${Number(e.rejectQuantity.value)} reject for ${e.orderRef} lot ${e.lot} (counter ${e.goodCounterFrom} -> ${e.goodCounterTo})`;
    }
    case "mfg.machine.connector_status_changed.v1": {
      const e = value as Payload<"mfg.machine.connector_status_changed.v1">;
      return `endpoint ${e.endpoint} ${e.previousStatus} -> ${e.status}`;
    }
    default:
      return undefined;
  }
}

export interface PlantDemo {
  readonly endpointUrl: string;
  /** Each line's machines: the orchestrator writes the order to all of them. */
  readonly machinesByLine: Readonly<Record<string, readonly string[]>>;
  /** Runs the plant, then compares the bridged totals with the ground truth (printed). */
  run(): Promise<void>;
  /** Every machine leaves its order: the counting points end their runs (ProductionRunEnded). */
  endRuns(): Promise<void>;
  truth(): PlantTruth;
  stop(): Promise<void>;
}

export async function startPlantDemo(options: PlantDemoOptions): Promise<PlantDemo> {
  const { nc, codec, print } = options;
  const virtualMs = options.virtualMs ?? 90_000;
  const speed = options.speed ?? 15;
  const pki = path.join(os.tmpdir(), "threadline-demo-pki");
  const sim = await startPlantSimulator({
    config: demoPlantWith(options.drift),
    autoRun: false,
    pkiFolder: path.join(pki, "server"),
  });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  let bridge: MachineBridge | undefined;
  const taps: { stop(): void }[] = [];
  const stop = async () => {
    for (const t of taps) t.stop();
    await bridge?.stop({ timeoutMs: 5_000 });
    await sim.stop();
  };
  try {
    const machines = sim.model.machineIds();
    print(
      `plant simulator: OPC UA server ${sim.endpointUrl}, ${machines.length} machines (${machines.join(", ")})`,
    );
    const mapping = bridgeMappingFor(sim.model.config, sim.endpointUrl, {
      connectorId: "machine-bridge-demo",
      overrides: {
        pkiFolder: path.join(pki, "client"),
        heartbeatMs: 1_000,
        // One report per machine every 2 s (30 s of plant time): progress on the open order in Odoo.
        reportIntervalMs: 2_000,
        telemetry: { batchIntervalMs: 500 },
      },
    });
    // Each line's counting point is its last machine (the labeler, the packer); the capper's rejects
    // are caps scrapped.
    withRejectedComponents(mapping);
    bridge = await MachineBridge.start({
      config: parseBridgeConfig(mapping),
      // The orchestrator's order writes (SET_ORDER) arrive on the bridge's command subjects.
      nc,
      publisher: new EventPublisher(js, codec, { service: "machine-bridge", site: "plant-lyon" }),
      jsm,
      codec,
      logger: silentLogger,
      registry: new Registry(),
    });

    // Live tap: what lands in the streams, as it lands.
    let samples = 0;
    let batches = 0;
    const seen = new Set<string>();
    for (const [stream, filter] of [
      ["MFG_MACHINE", "mfg.machine.>"],
      ["MFG_PRODUCTION", "mfg.production.production_reported.>"],
    ] as const) {
      const consumer = await js.consumers.get(stream, {
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.New,
      });
      const messages = await consumer.consume();
      taps.push({ stop: () => void messages.close() });
      void (async () => {
        for await (const m of messages) {
          try {
            const type = fromHeaders(m.headers).type;
            const value = (await codec.decode(m.data, { as: type })).value;
            if (type === "mfg.machine.telemetry_sampled.v1") {
              batches++;
              samples += (value as Payload<"mfg.machine.telemetry_sampled.v1">).samples.length;
              continue;
            }
            if (type === "mfg.machine.machine_state_changed.v1")
              seen.add(
                (value as Payload<"mfg.machine.machine_state_changed.v1">).equipment.machine as string,
              );
            const text = line(type, value);
            if (text) print(`  ${stream} #${m.seq}  ${text}`);
          } catch (err) {
            print(`  ${stream} #${m.seq}  cannot be read: ${(err as Error).message}`);
          }
        }
      })();
    }
    const deadline = Date.now() + 30_000;
    // The plant stands still until the bridge has every machine's first values: its baseline.
    while (seen.size < machines.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const demoBridge = bridge;
    return {
      endpointUrl: sim.endpointUrl,
      machinesByLine: Object.fromEntries(
        sim.model.config.sites.flatMap((site) => site.lines.map((l) => [l.id, l.machines.map((m) => m.id)])),
      ),
      async run() {
        print(
          `machine bridge: subscribed, endpoint ${demoBridge.endpointStatus()["plant-sim"]}; running ${virtualMs / 1000} s of plant time at ${speed}x`,
        );
        await runFor(sim.model, virtualMs, { speed, stepMs: 50 });
        // The plant stands still; its last changes reach the bridge within a publishing interval or two.
        await new Promise((r) => setTimeout(r, 1_000));
        await demoBridge.flush();
        await new Promise((r) => setTimeout(r, 500)); // let the tap print the last events
        print(`telemetry: ${samples} samples in ${batches} TelemetrySampled batches`);
        await printBridgedTotals(nc, codec, sim.model.groundTruth(), print);
      },
      async endRuns() {
        for (const id of machines) sim.model.setOrder(id, null, null);
        await new Promise((r) => setTimeout(r, 1_000));
        await demoBridge.flush();
        print("the plant's runs ended: every machine left its order (the counting points said so)");
      },
      truth: () => plantTruth(sim.model.groundTruth(), sim.model.now),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What the bridge stored against what the simulator knows happened. */
async function printBridgedTotals(
  nc: NatsConnection,
  codec: EventCodec,
  truth: ReturnType<Awaited<ReturnType<typeof startPlantSimulator>>["model"]["groundTruth"]>,
  print: (line: string) => void,
): Promise<void> {
  const stored = new Map<string, { good: number; reject: number }>();
  const reports = readEvents(nc, {
    stream: "MFG_PRODUCTION",
    filter: "mfg.production.production_reported.>",
    codec,
    types: ["mfg.production.production_reported.v1"],
  });
  for await (const { value: e } of reports) {
    const s = stored.get(e.equipment.machine as string) ?? { good: 0, reject: 0 };
    s.good += Number(e.goodQuantity.value);
    s.reject += Number(e.rejectQuantity.value);
    stored.set(e.equipment.machine as string, s);
  }
  print("bridged totals vs the simulator's ground truth:");
  for (const [id, m] of Object.entries(truth)) {
    const s = stored.get(id) ?? { good: 0, reject: 0 };
    const ok = s.good === m.good && s.reject === m.reject;
    print(
      `  ${id.padEnd(10)} good ${s.good}/${m.good}  reject ${s.reject}/${m.reject}  downtimes ${m.downtime.length}  ${ok ? "match" : "MISMATCH"}`,
    );
  }
}
