/**
 * A plant simulator (real OPC UA server), a real nats-server with the declared streams, and the
 * machine bridge between them — plus the means to drive the plant and read back what the bridge
 * stored.
 */

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import { CONNECTOR_STATE_BUCKET, MachineBridge } from "../../services/machine-bridge/src/bridge.js";
import { type BridgeConfigInput, parseBridgeConfig } from "../../services/machine-bridge/src/config.js";
import { silentLogger } from "../../streams/src/logger.js";
import { applyPlan, planChanges, serverFacts } from "../../streams/src/plan.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { type BridgeMappingOptions, bridgeMappingFor } from "../../tools/sim/plant/bridge-mapping.js";
import type { PlantConfigInput } from "../../tools/sim/plant/config.js";
import { type RunForOptions, runFor } from "../../tools/sim/plant/run-for.js";
import {
  type PlantSimulator,
  type PlantSimulatorOptions,
  startPlantSimulator,
} from "../../tools/sim/plant/server.js";
import { connectTo, type LocalNatsServer, type NatsServerOptions, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

/**
 * Two machines on one line: a filler whose good counter starts near its rollover (max 999) and a
 * capper; random stops of both kinds, telemetry on the filler. Each test adds its own seed and scenario.
 */
export function twoMachinePlant(seed: number, scenario: PlantConfigInput["scenario"]): PlantConfigInput {
  return {
    seed,
    sites: [
      {
        id: "lyon",
        lines: [
          {
            id: "l1",
            machines: [
              {
                id: "filler",
                cycleTimeMs: 60,
                rejectRate: 0.08,
                actingStateMs: 200,
                sampleIntervalMs: 250,
                telemetry: [{ name: "temperature", unit: "Cel", mean: 72, sd: 0.5 }],
                stopReasons: [{ code: "JAM", text: "Infeed jam", probability: 0.01, durationMs: [300, 900] }],
                counters: { max: 999, initialGood: 900 },
                order: "WH/MO/00001",
                lot: "LOT-A",
              },
              {
                id: "capper",
                cycleTimeMs: 80,
                rejectRate: 0.05,
                actingStateMs: 150,
                stopReasons: [{ code: "E-STOP", probability: 0.008, durationMs: [200, 600], kind: "stop" }],
                order: "WH/MO/00001",
              },
            ],
          },
        ],
      },
    ],
    scenario,
  };
}

/** One PKI folder for every bridge and simulator of the test run: certificates are made once. */
export const TEST_PKI = path.join(os.tmpdir(), "threadline-test-pki");

export function tempDir(t: TestContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startSimulator(
  t: TestContext,
  config: PlantConfigInput,
  options: Partial<PlantSimulatorOptions> = {},
): Promise<PlantSimulator> {
  const sim = await startPlantSimulator({
    config,
    autoRun: false,
    pkiFolder: path.join(TEST_PKI, "server"),
    ...options,
  });
  t.after(() => sim.stop());
  return sim;
}

/** A nats-server with the declared streams (local profile); `server`/`connect` options as the harness takes them. */
export async function startStreams(
  t: TestContext,
  server: NatsServerOptions = {},
  connect: Parameters<typeof connectTo>[1] = {},
): Promise<{ server: LocalNatsServer; nc: NatsConnection; jsm: JetStreamManager }> {
  const started = await startTestServer(server, t);
  const nc = await connectTo(started, connect, t);
  const jsm = await jetstreamManager(nc);
  await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
    force: false,
  });
  return { server: started, nc, jsm };
}

/** The bridge config for a simulator, with test-friendly timings. */
export function bridgeConfigFor(
  sim: PlantSimulator,
  url = sim.endpointUrl,
  options: BridgeMappingOptions = {},
) {
  return bridgeMappingFor(sim.model.config, url, {
    samplingIntervalMs: 100,
    ...options,
    overrides: {
      pkiFolder: path.join(TEST_PKI, "client"),
      heartbeatMs: 500,
      heartbeatTimeoutMs: 1_000,
      reportIntervalMs: 200,
      telemetry: { batchIntervalMs: 200 },
      ...options.overrides,
    },
    endpoint: { reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 }, ...options.endpoint },
  });
}

/** Starts the bridge in-process; stopped after the test. */
export async function startBridge(
  t: TestContext,
  nc: NatsConnection,
  config: BridgeConfigInput,
  env: Record<string, string> = {},
  registry: Registry = new Registry(),
): Promise<MachineBridge> {
  const codec = new EventCodec();
  const statusKv = await new Kvm(nc).open(CONNECTOR_STATE_BUCKET).catch(() => undefined);
  const bridge = await MachineBridge.start({
    config: parseBridgeConfig(config),
    publisher: new EventPublisher(jetstream(nc), codec, { service: "machine-bridge", site: "test" }),
    jsm: await jetstreamManager(nc),
    codec,
    logger: silentLogger,
    registry,
    env,
    nc,
    ...(statusKv ? { statusKv } : {}),
  });
  t.after(() => bridge.stop({ timeoutMs: 2_000 }));
  return bridge;
}

/**
 * Runs the plant's virtual clock faster than real time for `virtualMs`. The simulator's own
 * driver stays off, so the test decides when the plant stands still.
 */
export function drive(sim: PlantSimulator, virtualMs: number, options: RunForOptions = {}): Promise<void> {
  return runFor(sim.model, virtualMs, options);
}

export { type Stored, storedEvents } from "../harness/events.js";

/**
 * Waits until the bridge has read every machine's state and counters: from then on the plant may
 * move without the bridge missing its baseline (a counter's first value after start is the baseline).
 */
export async function bridgeSeesPlant(bridge: MachineBridge, machines: number): Promise<void> {
  await until("the bridge has read every machine's state and counters", () => bridge.baselined() >= machines);
}

/** Sum of decimal quantity strings with 6 decimals, as an integer number of units (the sim counts whole units). */
export function units(values: readonly { value: string }[]): number {
  return values.reduce((sum, q) => sum + Number(q.value), 0);
}
