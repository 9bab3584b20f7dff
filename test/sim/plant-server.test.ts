/**
 * The plant simulator's OPC UA server, through a real node-opcua client on 127.0.0.1: the address
 * space contract, subscriptions that see every change with its virtual time, methods, ground truth,
 * a server restart while the plant keeps running, identities and security, and the CLI.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  AttributeIds,
  ClientMonitoredItem,
  type ClientSession,
  ClientSubscription,
  DataType,
  type DataValue,
  MessageSecurityMode,
  makeBrowsePath,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  UserTokenType,
} from "node-opcua";
import { ConfigError } from "../../streams/src/errors.js";
import {
  GROUND_TRUTH_NODE_ID,
  type MachineNodeIds,
  PLANT_NAMESPACE_URI,
  VIRTUAL_TIME_NODE_ID,
} from "../../tools/sim/plant/addressing.js";
import { type PlantConfigInput, parsePlantConfig } from "../../tools/sim/plant/config.js";
import type { ChangeEvent } from "../../tools/sim/plant/model.js";
import { stateNumber, TMC_STATE_NUMBERS } from "../../tools/sim/plant/packml.js";
import { type PlantSimulator, startPlantSimulator } from "../../tools/sim/plant/server.js";
import { threadline } from "../harness/cli.js";
import { until } from "../harness/wait.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-plant-server-"));
const pkiFolder = join(dir, "pki");
const OPERATOR = { username: "operator", password: "s3cret-pw" };

const PLANT: PlantConfigInput = {
  seed: 7,
  sites: [
    {
      id: "lyon",
      lines: [
        {
          id: "l1",
          machines: [
            {
              id: "filler",
              cycleTimeMs: 100,
              rejectRate: 0.2,
              actingStateMs: 50,
              telemetry: [{ name: "temperature", unit: "Cel", mean: 50, sd: 0.5 }],
              stopReasons: [{ code: "E-1", text: "Jam", probability: 0.05, durationMs: [200, 400] }],
              order: "MO-1",
              lot: "L-1",
            },
            {
              id: "capper",
              cycleTimeMs: 100,
              actingStateMs: 50,
              order: "MO-2",
            },
            {
              id: "packer",
              cycleTimeMs: 150,
              initialState: "IDLE",
              stateNumbering: "packtags",
              counters: { max: 2 ** 40, initialGood: 2 ** 32 + 5 },
            },
          ],
        },
      ],
    },
  ],
};

// ---- client helpers

const clients: OPCUAClient[] = [];

interface OpenOptions {
  user?: { username: string; password: string };
  securityMode?: MessageSecurityMode;
  securityPolicy?: SecurityPolicy;
}

function newClient(opts: OpenOptions = {}): OPCUAClient {
  const client = OPCUAClient.create({
    applicationName: "threadline-plant-server-test",
    endpointMustExist: false,
    securityMode: opts.securityMode ?? MessageSecurityMode.None,
    securityPolicy: opts.securityPolicy ?? SecurityPolicy.None,
    connectionStrategy: { maxRetry: 0, initialDelay: 50, maxDelay: 100 },
    keepSessionAlive: false,
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: join(pkiFolder, "client"),
      automaticallyAcceptUnknownCertificate: true,
      disableFileWatchers: true,
    }),
  });
  clients.push(client);
  return client;
}

async function open(sim: PlantSimulator, opts: OpenOptions = {}): Promise<ClientSession> {
  const client = newClient(opts);
  await client.connect(sim.endpointUrl);
  return client.createSession(
    opts.user
      ? { type: UserTokenType.UserName, userName: opts.user.username, password: opts.user.password }
      : undefined,
  );
}

async function closeAll(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.disconnect().catch(() => {})));
}

async function read(session: ClientSession, nodeId: string): Promise<DataValue> {
  return session.read({ nodeId, attributeId: AttributeIds.Value });
}

async function values(session: ClientSession, nodeIds: string[]): Promise<unknown[]> {
  const dvs = await session.read(nodeIds.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })));
  return dvs.map((dv) => dv.value.value);
}

/** Monitors `nodeIds` with samplingInterval 0; resolves once every item has its initial value. */
async function monitor(session: ClientSession, nodeIds: string[]) {
  const sub = ClientSubscription.create(session, {
    requestedPublishingInterval: 20,
    requestedLifetimeCount: 600,
    requestedMaxKeepAliveCount: 20,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 1,
  });
  const seen = new Map<string, DataValue[]>(nodeIds.map((n) => [n, []]));
  const items = nodeIds.map((nodeId) => {
    const item = ClientMonitoredItem.create(
      sub,
      { nodeId, attributeId: AttributeIds.Value },
      { samplingInterval: 0, queueSize: 1000, discardOldest: false },
      TimestampsToReturn.Both,
    );
    item.on("changed", (dv: DataValue) => seen.get(nodeId)?.push(dv));
    return item;
  });
  await until(
    "the initial value of every monitored item",
    () => [...seen.values()].every((v) => v.length > 0),
    {
      timeoutMs: 10_000,
    },
  );
  return { sub, seen, items };
}

const SIM_OPTIONS = { pkiFolder, host: "127.0.0.1", port: 0 } as const;

after(async () => {
  await closeAll();
  rmSync(dir, { recursive: true, force: true });
});

test("plant config - a bad stateNumbering is a ConfigError naming the key", () => {
  const bad = structuredClone(PLANT) as PlantConfigInput;
  const machine = bad.sites?.[0]?.lines[0]?.machines[0] as Record<string, unknown>;
  machine["stateNumbering"] = "octal";
  assert.throws(
    () => parsePlantConfig(bad),
    (e: unknown) => e instanceof ConfigError && e.key === "sites.0.lines.0.machines.0.stateNumbering",
  );
  assert.equal(parsePlantConfig(PLANT).sites[0]?.lines[0]?.machines[0]?.stateNumbering, "tmc");
});

describe("plant simulator server - driven by hand (autoRun: false)", () => {
  let sim: PlantSimulator;
  let session: ClientSession;
  let filler: MachineNodeIds;
  let capper: MachineNodeIds;
  let packer: MachineNodeIds;

  before(async () => {
    sim = await startPlantSimulator({ ...SIM_OPTIONS, config: PLANT, autoRun: false });
    session = await open(sim);
    filler = sim.nodeIds("filler");
    capper = sim.nodeIds("capper");
    packer = sim.nodeIds("packer");
  });
  after(async () => {
    await closeAll();
    await sim?.stop();
  });

  test("the address space has the documented node ids, data types and initial values", async () => {
    assert.equal(filler.state, "ns=1;s=lyon.l1.filler.State");
    assert.equal(filler.telemetry["temperature"], "ns=1;s=lyon.l1.filler.Telemetry.temperature");
    assert.equal(filler.methods.ForceStop, "ns=1;s=lyon.l1.filler.ForceStop");
    const nsArray = (await read(session, "ns=0;i=2255")).value.value as string[];
    assert.equal(nsArray[1], PLANT_NAMESPACE_URI);

    const path = await session.translateBrowsePath(makeBrowsePath("i=85", "/1:Plant/1:lyon/1:l1/1:filler"));
    assert.equal(path.targets?.[0]?.targetId.toString(), filler.machine);

    assert.deepEqual(
      await values(session, [
        filler.state,
        filler.stateName,
        filler.goodCount,
        filler.rejectCount,
        filler.cycleTimeMs,
        filler.order,
        filler.lot,
        filler.stopReason,
        filler.stopReasonText,
        capper.lot,
      ]),
      [TMC_STATE_NUMBERS.EXECUTE, "EXECUTE", 0, 0, 100, "MO-1", "L-1", "", "", ""],
    );
    const good = await read(session, filler.goodCount);
    assert.equal(good.value.dataType, DataType.UInt32);
    assert.equal(good.sourceTimestamp?.getTime(), sim.startEpochMs);

    // packer: PackTags numbering, UInt64 counters (max > 0xFFFFFFFF), [high, low] on the wire
    assert.deepEqual(await values(session, [packer.state, packer.stateName]), [stateNumber("IDLE"), "IDLE"]);
    const big = await read(session, packer.goodCount);
    assert.equal(big.value.dataType, DataType.UInt64);
    assert.deepEqual(big.value.value, [1, 5]);

    // telemetry: an AnalogItem with the first sample, EngineeringUnits and an EURange of mean ± 10 sd
    const temp = filler.telemetry["temperature"]!;
    assert.equal(
      (await read(session, temp)).value.value,
      sim.model.snapshot("filler").telemetry["temperature"],
    );
    const props = await session.translateBrowsePath([
      makeBrowsePath(temp, ".EURange"),
      makeBrowsePath(temp, ".EngineeringUnits"),
    ]);
    const [range, units] = await values(
      session,
      props.map((p) => p.targets?.[0]?.targetId.toString() ?? "missing"),
    );
    assert.deepEqual([(range as { low: number }).low, (range as { high: number }).high], [45, 55]);
    assert.equal((units as { displayName: { text: string } }).displayName.text, "Cel");

    assert.equal((await read(session, VIRTUAL_TIME_NODE_ID)).value.value, 0);
  });

  test("a subscription with samplingInterval 0 sees every state transition in order, stamped startEpoch + at", async () => {
    const events: Extract<ChangeEvent, { type: "state" }>[] = [];
    const off = sim.model.onChange((e) => {
      if (e.type === "state" && e.machine === "capper") events.push(e);
    });
    const { seen, items, sub } = await monitor(session, [capper.state, capper.stateName]);
    assert.equal(items[0]?.monitoringParameters.samplingInterval, 0, "exception-based: every change");
    try {
      const m = sim.model;
      m.command("capper", "Hold");
      m.advance(60); // HOLDING → HELD
      m.command("capper", "Unhold");
      m.advance(60); // UNHOLDING → EXECUTE
      m.command("capper", "Stop");
      m.advance(60); // STOPPING → STOPPED
      m.command("capper", "Reset");
      m.advance(60); // RESETTING → IDLE
      m.command("capper", "Start");
      m.advance(60); // STARTING → EXECUTE
      assert.equal(events.length, 10);
      const names = seen.get(capper.stateName)!;
      const numbers = seen.get(capper.state)!;
      await until("every transition notified", () => names.length === 11 && numbers.length === 11, {
        timeoutMs: 5_000,
        detail: () => `${names.length - 1} of ${events.length} seen`,
      });
      assert.deepEqual(
        names.slice(1).map((dv) => dv.value.value),
        events.map((e) => e.state),
      );
      assert.deepEqual(
        numbers.slice(1).map((dv) => dv.value.value),
        events.map((e) => TMC_STATE_NUMBERS[e.state as keyof typeof TMC_STATE_NUMBERS]),
      );
      assert.deepEqual(
        names.slice(1).map((dv) => dv.sourceTimestamp?.getTime()),
        events.map((e) => sim.startEpochMs + e.at),
      );
    } finally {
      off();
      await sub.terminate();
    }
  });

  test("counters follow the model change by change and match groundTruth()", async () => {
    const counts: Extract<ChangeEvent, { type: "counter" }>[] = [];
    const off = sim.model.onChange((e) => {
      if (e.type === "counter" && e.machine === "filler") counts.push(e);
    });
    const { seen, sub } = await monitor(session, [filler.goodCount, filler.rejectCount]);
    try {
      for (let i = 0; i < 50; i++) sim.model.advance(100);
      const goods = counts.filter((e) => e.counter === "good");
      const rejects = counts.filter((e) => e.counter === "reject");
      assert.ok(goods.length > 10 && rejects.length > 0, `${goods.length} good, ${rejects.length} reject`);
      const good = seen.get(filler.goodCount)!;
      const reject = seen.get(filler.rejectCount)!;
      await until(
        "every counter change notified",
        () => good.length === goods.length + 1 && reject.length === rejects.length + 1,
        {
          timeoutMs: 5_000,
          detail: () =>
            `good ${good.length - 1}/${goods.length}, reject ${reject.length - 1}/${rejects.length}`,
        },
      );
      const seenGood = good.map((dv) => dv.value.value as number);
      assert.deepEqual(
        seenGood.slice(1),
        goods.map((e) => e.value),
      );
      for (let i = 1; i < seenGood.length; i++) assert.equal(seenGood[i], seenGood[i - 1]! + 1);
      assert.deepEqual(
        good.slice(1).map((dv) => dv.sourceTimestamp?.getTime()),
        goods.map((e) => sim.startEpochMs + e.at),
      );
      const truth = sim.model.groundTruth()["filler"]!;
      assert.deepEqual(await values(session, [filler.goodCount, filler.rejectCount]), [
        truth.good,
        truth.reject,
      ]);
      assert.equal(truth.goodCounter, truth.good);
    } finally {
      off();
      await sub.terminate();
    }
  });

  test("ForceStop, PackML commands, SetOrder and ResetCounters drive the machine; an illegal command is BadInvalidState and changes nothing", async () => {
    const call = (
      method: keyof MachineNodeIds["methods"],
      args: { dataType: DataType; value: unknown }[] = [],
    ) => session.call({ objectId: capper.machine, methodId: capper.methods[method], inputArguments: args });
    const forceStop = (code: string, ms: number) =>
      call("ForceStop", [
        { dataType: DataType.String, value: code },
        { dataType: DataType.UInt32, value: ms },
      ]);
    const state = async () => (await read(session, capper.stateName)).value.value;
    assert.equal(await state(), "EXECUTE");
    sim.model.advance(1_000);

    // 0 ms: stays down until told otherwise
    assert.equal((await forceStop("E-77", 0)).statusCode, StatusCodes.Good);
    sim.model.advance(10_000);
    assert.deepEqual(await values(session, [capper.stateName, capper.stopReason]), ["HELD", "E-77"]);

    const illegal = await call("Start");
    assert.equal(illegal.statusCode, StatusCodes.BadInvalidState);
    assert.equal((await forceStop("E-78", 0)).statusCode, StatusCodes.BadInvalidState, "not in EXECUTE");
    assert.deepEqual(await values(session, [capper.stateName, capper.stopReason]), ["HELD", "E-77"]);
    assert.equal(sim.model.snapshot("capper").state, "HELD");

    assert.equal((await call("Unhold")).statusCode, StatusCodes.Good);
    sim.model.advance(100);
    assert.deepEqual(await values(session, [capper.stateName, capper.stopReason]), ["EXECUTE", ""]);

    // a duration: back to EXECUTE by itself
    assert.equal((await forceStop("E-79", 300)).statusCode, StatusCodes.Good);
    sim.model.advance(100);
    assert.equal(await state(), "HELD");
    sim.model.advance(400);
    assert.equal(await state(), "EXECUTE");
    const downtime = sim.model.groundTruth()["capper"]!.downtime.map((d) => d.reason?.code);
    assert.deepEqual(downtime.slice(-2), ["E-77", "E-79"]);

    assert.equal(
      (
        await call("SetOrder", [
          { dataType: DataType.String, value: "MO-9" },
          { dataType: DataType.String, value: "" },
        ])
      ).statusCode,
      StatusCodes.Good,
    );
    assert.deepEqual(await values(session, [capper.order, capper.lot]), ["MO-9", ""]);

    const before = sim.model.groundTruth()["capper"]!.good;
    assert.ok(before > 0);
    assert.equal((await call("ResetCounters")).statusCode, StatusCodes.Good);
    assert.deepEqual(await values(session, [capper.goodCount, capper.rejectCount]), [0, 0]);
    assert.equal(sim.model.groundTruth()["capper"]!.good, before, "ground truth keeps the true total");
  });

  test("Plant.GroundTruth read over OPC UA equals model.groundTruth(), Plant.VirtualTimeMs the model's clock", async () => {
    sim.model.advance(2_345);
    const [truth, now] = await values(session, [GROUND_TRUTH_NODE_ID, VIRTUAL_TIME_NODE_ID]);
    assert.deepEqual(JSON.parse(truth as string), sim.model.groundTruth());
    assert.equal(now, sim.model.now);
  });
});

describe("plant simulator server - running in real time, with identities", () => {
  let sim: PlantSimulator;
  const logs: string[] = [];

  before(async () => {
    sim = await startPlantSimulator({
      ...SIM_OPTIONS,
      config: PLANT,
      speed: 5,
      users: [OPERATOR],
      allowAnonymous: false,
      logger: (l) => logs.push(l),
    });
  });
  after(async () => {
    await closeAll();
    await sim?.stop();
  });

  test("a right password opens a session, a wrong one and anonymous are refused", async () => {
    const session = await open(sim, { user: OPERATOR });
    assert.equal(sim.currentSessionCount(), 1);
    await session.close();

    await assert.rejects(
      open(sim, { user: { ...OPERATOR, password: "wrong" } }),
      /BadUserAccessDenied|BadIdentityToken/,
    );
    // No endpoint offers an anonymous token, so node-opcua's client refuses before asking.
    const probe = newClient();
    await probe.connect(sim.endpointUrl);
    const endpoints = await probe.getEndpoints();
    assert.ok(endpoints.length > 0);
    for (const e of endpoints)
      assert.ok(
        !e.userIdentityTokens?.some((t) => t.tokenType === UserTokenType.Anonymous),
        e.endpointUrl ?? "",
      );
    await assert.rejects(open(sim), /ANONYMOUS user token policy|BadIdentityToken|BadUserAccessDenied/);
    assert.equal(sim.currentSessionCount(), 0);
    await closeAll();
  });

  test("Basic256Sha256 with SignAndEncrypt connects and reads", async () => {
    const session = await open(sim, {
      user: OPERATOR,
      securityMode: MessageSecurityMode.SignAndEncrypt,
      securityPolicy: SecurityPolicy.Basic256Sha256,
    });
    const ids = sim.nodeIds("filler");
    assert.equal((await read(session, ids.order)).value.value, "MO-1");
    await closeAll();
  });

  test("restartServer() drops the client while the plant keeps counting; afterwards the counters read higher", async () => {
    const ids = sim.nodeIds("capper");
    const client = newClient({ user: OPERATOR });
    await client.connect(sim.endpointUrl);
    const session = await client.createSession({
      type: UserTokenType.UserName,
      userName: OPERATOR.username,
      password: OPERATOR.password,
    });
    let lost = false;
    client.on("connection_lost", () => {
      lost = true;
    });
    const before = (await read(session, ids.goodCount)).value.value as number;
    const clockBefore = sim.model.now;

    await sim.restartServer({ downMs: 300 });
    await until("the client to notice the lost connection", () => lost, { timeoutMs: 5_000 });
    assert.ok(sim.model.now - clockBefore >= 300 * 5, "the model kept running while the server was down");
    await client.disconnect().catch(() => {});

    const again = await open(sim, { user: OPERATOR });
    const after = (await read(again, ids.goodCount)).value.value as number;
    assert.ok(after > before, `GoodCount ${after} after the restart, ${before} before`);
    assert.equal(after, sim.model.snapshot("capper").goodCounter);
    assert.ok(logs.some((l) => l.includes("restarting")));
    await closeAll();
  });
});

describe("threadline sim plant", () => {
  test("runs the demo plant for --duration, prints the endpoint and writes the ground-truth report", async () => {
    const report = join(dir, "report.json");
    const run = await threadline([
      "sim",
      "plant",
      "--duration",
      "1500",
      "--port",
      "0",
      "--report",
      report,
      "--pki",
      pkiFolder,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /OPC UA endpoint: opc\.tcp:\/\/127\.0\.0\.1:\d+/);
    assert.match(run.stdout, /plant-lyon\/line-1\/filler-1/);
    const json = JSON.parse(readFileSync(report, "utf8")) as {
      groundTruth: Record<string, { good: number }>;
    };
    assert.equal(Object.keys(json.groundTruth).length, 6);
    assert.ok(Object.values(json.groundTruth).some((m) => m.good > 0));
  });

  test("a bad config exits 2 naming the key", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      "sites:\n  - id: s\n    lines:\n      - id: l\n        machines:\n          - id: m\n            cycleTimeMs: 100\n            stateNumbering: octal\n",
    );
    const run = await threadline(["sim", "plant", "--config", file, "--port", "0"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /sites\.0\.lines\.0\.machines\.0\.stateNumbering/);
  });
});
