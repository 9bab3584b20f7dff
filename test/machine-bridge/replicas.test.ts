/**
 * Several replicas of one machine bridge, each a process as it runs in production (its least-privilege
 * NATS user, its own holder), on a plant of four OPC UA endpoints: the endpoints are spread over the
 * replicas under leases, taken over when a replica is killed or paused, rebalanced when one joins —
 * and every machine is counted exactly once through all of it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, type TestContext, test } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import { EventCodec } from "../../contracts/src/codec.js";
import { CONNECTOR_STATE_BUCKET, MachineBridge } from "../../services/machine-bridge/src/bridge.js";
import { parseBridgeConfig } from "../../services/machine-bridge/src/config.js";
import { machineBridgeManifest } from "../../services/machine-bridge/src/manifest.js";
import { createLogger, PublishError } from "../../streams/src/index.js";
import { sendMachineCommand } from "../../streams/src/machine-commands.js";
import { EventPublisher } from "../../streams/src/publisher.js";
import type { PlantConfigInput } from "../../tools/sim/plant/config.js";
import type { PlantSimulator } from "../../tools/sim/plant/server.js";
import { leastPrivilege } from "../harness/permissions.js";
import { until } from "../harness/wait.js";
import {
  bridgeConfigFor,
  bridgeSeesPlant,
  drive,
  startSimulator,
  startStreams,
  storedEvents,
  tempDir,
  units,
} from "./fixture.js";

/** Four machines on two lines: line l1 behind one endpoint, each machine of l2 behind its own. */
const PLANT: PlantConfigInput = {
  seed: 11,
  sites: [
    {
      id: "lyon",
      lines: [
        {
          id: "l1",
          machines: [
            { id: "filler", cycleTimeMs: 60, rejectRate: 0.08 },
            { id: "capper", cycleTimeMs: 80, rejectRate: 0.05 },
          ],
        },
        {
          id: "l2",
          machines: [
            { id: "press", cycleTimeMs: 50, rejectRate: 0.1 },
            { id: "labeler", cycleTimeMs: 70, rejectRate: 0.04 },
          ],
        },
      ],
    },
  ],
};

/** Short, so that takeovers happen within a test; the bound below is derived from it. */
const TTL_MS = 3_000;
/** A lost owner's endpoints are taken within ttl + one renewal period; the rest is margin for a loaded machine. */
const TAKEOVER_BOUND_MS = TTL_MS + TTL_MS / 3 + 10_000;
const CONNECTOR = "machine-bridge-sim";
const ENDPOINTS = ["opc-l1", "opc-labeler", "opc-press"];

interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: () => string;
}

interface Plant {
  readonly sim: PlantSimulator;
  readonly nc: NatsConnection;
  /** Starts one more replica of the bridge (HOSTNAME = name, so its leases say who holds them). */
  readonly replica: (name: string) => Replica;
}

async function startPlant(t: TestContext): Promise<Plant> {
  const sim = await startSimulator(t, PLANT);
  const auth = leastPrivilege(machineBridgeManifest);
  const { server, nc } = await startStreams(t, { extraConfig: auth.authorization }, auth.admin);
  const base = bridgeConfigFor(sim, sim.endpointUrl, { connectorId: CONNECTOR });
  const [endpoint] = base.endpoints as [(typeof base.endpoints)[number]];
  const config = {
    ...base,
    endpoints: [
      { ...endpoint, id: "opc-l1", machines: endpoint.machines.filter((m) => m.line === "l1") },
      ...endpoint.machines
        .filter((m) => m.line === "l2")
        .map((m) => ({ ...endpoint, id: `opc-${m.machine}`, machines: [m] })),
    ],
  };
  const dir = tempDir(t, "threadline-bridge-replicas-");
  const configFile = path.join(dir, "bridge.json");
  fs.writeFileSync(configFile, JSON.stringify(config));
  const replica = (name: string): Replica => {
    let output = "";
    const child = spawn(process.execPath, [path.resolve("dist/services/machine-bridge/src/main.js")], {
      env: {
        ...process.env,
        HOSTNAME: name,
        NATS_URL: server.clientUrl,
        NATS_USER: auth.service.user,
        NATS_PASSWORD: auth.service.pass,
        BRIDGE_CONFIG: configFile,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        LOG_LEVEL: "info",
        LEASE_TTL_MS: String(TTL_MS),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (d: Buffer) => {
      output += d.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    t.after(() => {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    });
    return { name, child, output: () => output };
  };
  return { sim, nc, replica };
}

/** The plant with two replicas started, each holding endpoints and every machine read. */
async function twoReplicasSpread(t: TestContext) {
  const plant = await startPlant(t);
  const a = plant.replica("replica-a");
  const b = plant.replica("replica-b");
  await ownedSo(
    plant.nc,
    "both replicas hold endpoints",
    (n) => (n["replica-a"] ?? 0) >= 1 && (n["replica-b"] ?? 0) >= 1,
  );
  await everyMachineRead([a, b]);
  return { ...plant, a, b };
}

/** Endpoint → the replica (HOSTNAME) holding its lease now, from the leases in the connector-state bucket. */
async function owners(nc: NatsConnection): Promise<Record<string, string>> {
  const kv = await new Kvm(nc).open(CONNECTOR_STATE_BUCKET);
  const out: Record<string, string> = {};
  for (const endpoint of ENDPOINTS) {
    const entry = await kv.get(`lease.machine-bridge.${CONNECTOR}.${endpoint}`);
    if (entry?.operation === "PUT")
      out[endpoint] = (entry.json() as { holder: string }).holder.split(":")[0] ?? "";
  }
  return out;
}

/** How many endpoints each replica holds. */
function shares(byEndpoint: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const holder of Object.values(byEndpoint)) out[holder] = (out[holder] ?? 0) + 1;
  return out;
}

/** Waits until every endpoint is held and `ok` holds of the holders; returns them. */
async function ownedSo(
  nc: NatsConnection,
  what: string,
  ok: (count: Record<string, number>) => boolean,
  timeoutMs = TAKEOVER_BOUND_MS,
): Promise<Record<string, string>> {
  let last: Record<string, string> = {};
  return until(
    what,
    async () => {
      last = await owners(nc);
      return Object.keys(last).length === ENDPOINTS.length && ok(shares(last)) ? last : undefined;
    },
    { timeoutMs, intervalMs: 200, detail: () => JSON.stringify(last) },
  );
}

/** What a replica's /metrics says of a metric without labels (its HTTP port is in its "service running" line); 0 when it does not answer. */
async function metric(r: Replica, name: string): Promise<number> {
  const url = /"url":"(http:[^"]+)"/.exec(r.output())?.[1];
  if (!url) return 0;
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1_000) })).text();
    return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The replicas have read every machine's state and counters (each on its endpoint's owner): from then on the plant may move. */
async function everyMachineRead(replicas: readonly Replica[]): Promise<void> {
  let last = 0;
  await until(
    "every machine is read by the owner of its endpoint",
    async () => {
      const counts = await Promise.all(
        replicas.map((r) => metric(r, "threadline_bridge_machines_baselined")),
      );
      last = counts.reduce((a, b) => a + b, 0);
      return last === 4;
    },
    { timeoutMs: 60_000, intervalMs: 250, detail: () => `${last} machines read` },
  );
}

/**
 * The production reports stored equal the plant's ground truth per machine, each id once, and each
 * machine's reports form one chain (each starts at the counter value where the previous ended):
 * nothing counted twice, nothing skipped.
 */
async function countedExactlyOnce(nc: NatsConnection, sim: PlantSimulator): Promise<void> {
  let last = "";
  await until(
    "the stored production totals equal the ground truth",
    async () => {
      const reports = await storedEvents(nc, "mfg.production.production_reported.v1");
      const stored: Record<string, { good: number; reject: number }> = {};
      for (const r of reports) {
        const name = r.value.equipment.machine as string;
        const m = stored[name] ?? { good: 0, reject: 0 };
        stored[name] = m;
        m.good += units([r.value.goodQuantity]);
        m.reject += units([r.value.rejectQuantity]);
      }
      const truth = Object.fromEntries(
        Object.entries(sim.model.groundTruth()).map(([id, m]) => [id, { good: m.good, reject: m.reject }]),
      );
      last = `stored ${JSON.stringify(stored)}, truth ${JSON.stringify(truth)}`;
      return JSON.stringify(Object.entries(stored).sort()) === JSON.stringify(Object.entries(truth).sort());
    },
    { timeoutMs: 30_000, intervalMs: 300, detail: () => last },
  );
  const reports = await storedEvents(nc, "mfg.production.production_reported.v1");
  const ids = reports.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, "no event id stored twice");
  const byMachine = new Map<string, typeof reports>();
  for (const r of reports) byMachine.set(r.key, [...(byMachine.get(r.key) ?? []), r]);
  assert.equal(byMachine.size, 4, "every machine reported");
  for (const [machine, chain] of byMachine)
    for (let i = 1; i < chain.length; i++) {
      assert.equal(
        chain[i]?.value.goodCounterFrom,
        chain[i - 1]?.value.goodCounterTo,
        `${machine} good, report ${i}`,
      );
      assert.equal(
        chain[i]?.value.rejectCounterFrom,
        chain[i - 1]?.value.rejectCounterTo,
        `${machine} reject, report ${i}`,
      );
    }
}

describe("machine bridge replicas", () => {
  test("a production report with a stale expected subject sequence is refused by the stream", async (t) => {
    // The server-side fence of a deposed owner: its report expects the last report it knew of.
    const { nc } = await startStreams(t);
    const codec = new EventCodec();
    const publisher = new EventPublisher(jetstream(nc), codec, { service: "machine-bridge", site: "lyon" });
    /** A report of the filler's good counter from..to, expecting `expected` as its subject's last sequence. */
    const report = (id: string, from: number, to: number, expected: number) =>
      publisher.publish(
        "mfg.production.production_reported.v1",
        {
          equipment: { site: "lyon", area: null, line: "l1", cell: null, machine: "filler" },
          orderRef: null,
          lot: null,
          goodQuantity: { value: `${to - from}.000000`, uom: "Units" },
          rejectQuantity: { value: "0.000000", uom: "Units" },
          goodCounterFrom: BigInt(from),
          goodCounterTo: BigInt(to),
          rejectCounterFrom: 0n,
          rejectCounterTo: 0n,
          periodStartAt: new Date(0),
          reportedAt: new Date(),
          countingPoint: false,
          rejectedComponent: null,
          running: [],
        },
        {
          site: "lyon",
          line: "l1",
          machine: "filler",
          key: "lyon/l1/filler",
          id,
          expectedLastSubjectSequence: expected,
        },
      );
    // The owner A reports 0..10 (nothing on the subject before), then is paused; B resumes after it.
    const a = await report("a-1", 0, 10, 0);
    await report("b-1", 10, 25, a.ack.seq);
    // A wakes up and reports what it had counted since 10: refused, B counts it.
    await assert.rejects(
      report("a-2", 10, 20, a.ack.seq),
      (err: unknown) => err instanceof PublishError && err.failure === "api_10071",
    );
    const stored = await storedEvents(nc, "mfg.production.production_reported.v1");
    assert.deepEqual(
      stored.map((s) => s.id),
      ["a-1", "b-1"],
    );
  });

  test("a report the stream refuses (the machine was reported by another writer since) makes the owner resume the endpoint from the streams, then count on exactly", async (t) => {
    const sim = await startSimulator(t, PLANT);
    const { nc } = await startStreams(t);
    const codec = new EventCodec();
    const publisher = new EventPublisher(jetstream(nc), codec, { service: "machine-bridge", site: "lyon" });
    const log = new PassThrough();
    let lines = "";
    log.on("data", (d: Buffer) => {
      lines += d.toString();
    });
    const bridge = await MachineBridge.start({
      config: parseBridgeConfig(bridgeConfigFor(sim, sim.endpointUrl, { connectorId: CONNECTOR })),
      publisher,
      jsm: await jetstreamManager(nc),
      codec,
      logger: createLogger({ service: "machine-bridge", level: "info", destination: log }),
      registry: new Registry(),
      nc,
      statusKv: await new Kvm(nc).open(CONNECTOR_STATE_BUCKET),
      replicas: { holder: "in-process", ttlMs: TTL_MS },
    });
    t.after(() => bridge.stop({ timeoutMs: 2_000 }));
    await until("the bridge owns its endpoint", () => bridge.ownedEndpoints().length === 1);
    await bridgeSeesPlant(bridge, 4);
    await drive(sim, 2_000);
    await countedExactlyOnce(nc, sim);
    // Another writer reports the filler (as a deposed owner's late report would land): a report
    // that continues the chain and counts nothing, so the totals stay the plant's.
    const reports = await storedEvents(nc, "mfg.production.production_reported.v1");
    const last = reports.filter((r) => r.value.equipment.machine === "filler").at(-1);
    assert.ok(last);
    const zero = { value: "0.000000", uom: last.value.goodQuantity.uom };
    await publisher.publish(
      "mfg.production.production_reported.v1",
      {
        ...last.value,
        goodQuantity: zero,
        rejectQuantity: { ...zero, uom: last.value.rejectQuantity.uom },
        goodCounterFrom: last.value.goodCounterTo,
        rejectCounterFrom: last.value.rejectCounterTo,
        periodStartAt: last.value.reportedAt,
        reportedAt: new Date(),
        running: [],
      },
      { site: "lyon", line: "l1", machine: "filler", key: last.key },
    );
    await drive(sim, 2_000);
    await until("the bridge's next report of the filler is refused and the endpoint restarted", () =>
      /endpoint fenced: stopping it/.test(lines),
    );
    await until("the endpoint runs again", () => bridge.endpointStatus()["plant-sim"] === "ONLINE");
    await drive(sim, 2_000);
    await countedExactlyOnce(nc, sim);
  });

  test("two replicas spread the endpoints, count every machine once and execute each command once; a third that joins takes its share", async (t) => {
    const { sim, nc, replica, a, b } = await twoReplicasSpread(t);
    await drive(sim, 3_000);
    await countedExactlyOnce(nc, sim);
    // A command reaches one replica (one queue group) and is executed by its endpoint's owner, once.
    for (const [line, machine] of [
      ["l1", "filler"],
      ["l1", "capper"],
      ["l2", "press"],
      ["l2", "labeler"],
    ] as const) {
      const reply = await sendMachineCommand(
        nc,
        { site: "lyon", line, machine },
        {
          requestId: `req-${machine}`,
          requestedBy: "test",
          body: { command: "SET_ORDER", order: `WH/MO/${machine}`, lot: `LOT-${machine}` },
        },
      );
      assert.equal(reply.outcome, "CONFIRMED", reply.message ?? "");
      assert.equal(sim.model.snapshot(machine).order, `WH/MO/${machine}`);
    }
    const audits = await storedEvents(nc, "mfg.machine.machine_command_executed.v1");
    assert.deepEqual(audits.map((a) => `${a.value.equipment.machine} ${a.value.outcome}`).sort(), [
      "capper CONFIRMED",
      "filler CONFIRMED",
      "labeler CONFIRMED",
      "press CONFIRMED",
    ]);
    const c = replica("replica-c");
    // Three replicas, three endpoints: one each (ceil(3 / 3)); the one that held two gave one up.
    await ownedSo(
      nc,
      "the third replica holds its share",
      (n) => n["replica-a"] === 1 && n["replica-b"] === 1 && n["replica-c"] === 1,
    );
    await everyMachineRead([a, b, c]);
    await drive(sim, 3_000);
    await countedExactlyOnce(nc, sim);
  });

  test("a replica killed with SIGKILL: the other takes its endpoints within the ttl and counting goes on with no loss or double count", async (t) => {
    const { sim, nc, a, b } = await twoReplicasSpread(t);
    await drive(sim, 2_000);
    await countedExactlyOnce(nc, sim);
    // Killed right after the plant moved: what it had read and not yet reported is the new owner's to count.
    await drive(sim, 1_000);
    a.child.kill("SIGKILL");
    const killedAt = Date.now();
    // The plant goes on while replica-a's endpoints wait for their new owner.
    await drive(sim, 1_000);
    await ownedSo(nc, "replica-b holds every endpoint", (n) => n["replica-b"] === 3);
    const takeoverMs = Date.now() - killedAt;
    t.diagnostic(`takeover after SIGKILL: ${takeoverMs} ms (ttl ${TTL_MS} ms)`);
    assert.ok(takeoverMs <= TAKEOVER_BOUND_MS, `taken over in ${takeoverMs} ms`);
    await everyMachineRead([b]);
    await drive(sim, 2_000);
    await countedExactlyOnce(nc, sim);
  });

  test("an owner paused past the ttl (SIGSTOP) is replaced, and once continued (SIGCONT) publishes nothing twice", async (t) => {
    const { sim, nc, a, b } = await twoReplicasSpread(t);
    await drive(sim, 2_000);
    await countedExactlyOnce(nc, sim);
    await drive(sim, 1_000);
    // Paused with counts read and not yet reported: the plant keeps producing.
    a.child.kill("SIGSTOP");
    await drive(sim, 500);
    await ownedSo(nc, "replica-b holds every endpoint", (n) => n["replica-b"] === 3);
    await drive(sim, 1_500);
    await countedExactlyOnce(nc, sim);
    // Continued: it finds its leases lapsed and stops its endpoints before it publishes anything.
    a.child.kill("SIGCONT");
    await until("the paused replica notices it lost its endpoints", () =>
      /endpoint lost: stopping it/.test(a.output()),
    );
    await drive(sim, 1_500);
    await countedExactlyOnce(nc, sim);
    // It stays a replica: it may take a share again (rebalance), still counting each machine once.
    await ownedSo(nc, "the continued replica takes a share again", (n) => (n["replica-a"] ?? 0) >= 1);
    await everyMachineRead([a, b]);
    await drive(sim, 1_500);
    await countedExactlyOnce(nc, sim);
  });
});
