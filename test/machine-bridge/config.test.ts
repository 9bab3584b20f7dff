/**
 * The bridge's plant mapping: what a valid file looks like, and that a wrong one names its key.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import {
  countingPoints,
  loadBridgeConfig,
  parseBridgeConfig,
  stateTableFor,
} from "../../services/machine-bridge/src/config.js";
import { ConfigError } from "../../streams/src/errors.js";
import { threadline } from "../harness/cli.js";
import { tempDir } from "./fixture.js";

const machine = {
  line: "l1",
  machine: "filler",
  signals: { state: "ns=1;s=L1.Filler.State", goodCounter: { nodeId: "ns=2;i=1042", queueSize: 500 } },
};
const valid = {
  connectorId: "bridge-lyon-1",
  site: "lyon",
  endpoints: [{ id: "l1-plc", url: "opc.tcp://10.0.4.21:4840", machines: [machine] }],
};

function keyOf(input: unknown): string {
  try {
    parseBridgeConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.key;
  }
  assert.fail("the config was accepted");
}

const withMachine = (m: object) => ({
  ...valid,
  endpoints: [{ ...valid.endpoints[0], machines: [{ ...machine, ...m }] }],
});
const withEndpoint = (e: object) => ({ ...valid, endpoints: [{ ...valid.endpoints[0], ...e }] });

describe("bridge config", () => {
  test("a minimal mapping gets documented defaults", () => {
    const c = parseBridgeConfig(valid);
    const e = c.endpoints[0];
    assert.equal(e?.profile, "tmc");
    assert.deepEqual(e?.security, { mode: "None", policy: "None" });
    assert.equal(e?.machines[0]?.counters.max, 0xffff_ffffn);
    assert.equal(e?.machines[0]?.counters.uom, "Units", "a machine counts in Units unless it says otherwise");
    assert.equal(e?.machines[0]?.counters.rejectUom, undefined, "its rejects in the same unit");
    assert.equal(c.heartbeatMs, 5_000);
    assert.equal(c.trustUnknownServerCertificates, false);
  });

  test("a machine's counting unit is its own: cases out, single jars rejected; an empty unit is named", () => {
    const c = parseBridgeConfig(withMachine({ counters: { uom: "Case of 12", rejectUom: "Units" } }));
    assert.deepEqual(
      [c.endpoints[0]?.machines[0]?.counters.uom, c.endpoints[0]?.machines[0]?.counters.rejectUom],
      ["Case of 12", "Units"],
    );
    assert.equal(keyOf(withMachine({ counters: { uom: "" } })), "endpoints.0.machines.0.counters.uom");
    assert.equal(keyOf(withMachine({ counters: { unit: "kg" } })), "endpoints.0.machines.0.counters.unit");
  });

  test("each mistake is named by its key", () => {
    assert.equal(keyOf({ ...valid, connectorId: "bridge lyon" }), "connectorId");
    assert.equal(
      keyOf(withMachine({ signals: { state: "State" } })),
      "endpoints.0.machines.0.signals.state.nodeId",
    );
    assert.equal(
      keyOf(withMachine({ signals: { ...machine.signals, speed: "ns=1;s=x" } })),
      "endpoints.0.machines.0.signals.speed",
    );
    assert.equal(keyOf(withEndpoint({ url: "http://10.0.4.21" })), "endpoints.0.url");
    assert.equal(keyOf(withEndpoint({ profile: "siemens" })), "endpoints.0.profile");
    assert.equal(
      keyOf(withEndpoint({ security: { mode: "SignAndEncrypt" } })),
      "endpoints.0.security.policy",
    );
    assert.equal(
      keyOf(withEndpoint({ user: { username: "bridge", passwordEnv: "secret!" } })),
      "endpoints.0.user.passwordEnv",
    );
    assert.equal(keyOf(withMachine({ counters: { max: 0 } })), "endpoints.0.machines.0.counters.max");
    assert.equal(
      keyOf(
        withMachine({
          telemetry: [
            { tag: "t", nodeId: "ns=1;s=a" },
            { tag: "t", nodeId: "ns=1;s=b" },
          ],
        }),
      ),
      "endpoints.0.machines.0.telemetry.1.tag",
    );
    assert.equal(
      keyOf({ ...valid, endpoints: [{ ...valid.endpoints[0], machines: [machine, machine] }] }),
      "endpoints.0.machines.1.machine",
    );
    assert.equal(keyOf({ ...valid, profiles: { acme: { EXECUTE: 3, HELD: 3 } } }), "profiles.acme.HELD");
  });

  test("the counting point of a line is its last machine that counts, in file order, unless the line names another", () => {
    const capper = {
      line: "l1",
      machine: "capper",
      signals: { state: "ns=1;s=L1.Capper.State", goodCounter: "ns=1;s=L1.Capper.Good" },
    };
    const stateOnly = { ...machine, signals: { state: "ns=1;s=L1.Filler.State" } };
    const line = (machines: object[], lines?: object) =>
      parseBridgeConfig({
        ...valid,
        endpoints: [{ ...valid.endpoints[0], machines }],
        ...(lines ? { lines } : {}),
      });
    assert.deepEqual([...countingPoints(line([capper, machine]))], ["lyon/l1/filler"]);
    assert.deepEqual(
      [...countingPoints(line([machine, capper], { l1: { countingPoint: "filler" } }))],
      ["lyon/l1/filler"],
    );
    assert.deepEqual(
      [...countingPoints(line([capper, stateOnly]))],
      ["lyon/l1/capper"],
      "the last that counts",
    );
    assert.deepEqual([...countingPoints(line([stateOnly]))], [], "a line where nothing counts has none");
    assert.equal(keyOf({ ...valid, lines: { l9: { countingPoint: "filler" } } }), "lines.l9");
    assert.equal(keyOf({ ...valid, lines: { l1: { countingPoint: "labeler" } } }), "lines.l1.countingPoint");
    assert.equal(
      keyOf({
        ...valid,
        endpoints: [
          { ...valid.endpoints[0], machines: [capper, { ...machine, rejects: { component: "CAP-38" } }] },
        ],
      }),
      "endpoints.0.machines.1.rejects",
      "the counting point's rejects are finished product, not a component",
    );
    assert.equal(
      keyOf({
        ...valid,
        endpoints: [{ ...valid.endpoints[0], machines: [stateOnly] }],
        lines: { l1: { countingPoint: "filler" } },
      }),
      "endpoints.0.machines.0.signals.goodCounter",
      "a counting point named must count",
    );
  });

  test("a machine says what it has: a running signal, counters only or telemetry only, never both a state and a running signal", () => {
    const m = (signals: object, extra: object = {}) => withMachine({ signals, ...extra });
    const running = parseBridgeConfig(
      m({ running: { nodeId: "ns=2;i=5", values: ["Running", 1], dataType: "PressStatus" } }),
    ).endpoints[0]?.machines[0]?.signals.running;
    assert.deepEqual(running, { nodeId: "ns=2;i=5", values: ["Running", 1], dataType: "PressStatus" });
    assert.deepEqual(
      [...countingPoints(parseBridgeConfig(m({ goodCounter: "ns=2;i=6" })))],
      ["lyon/l1/filler"],
    );
    const telemetryOnly = parseBridgeConfig(
      withMachine({ signals: undefined, telemetry: [{ tag: "t", nodeId: "ns=2;i=7", dataType: "Int64" }] }),
    );
    assert.deepEqual(telemetryOnly.endpoints[0]?.machines[0]?.signals, {});
    assert.equal(telemetryOnly.endpoints[0]?.machines[0]?.telemetry[0]?.dataType, "Int64");
    assert.equal(
      keyOf(m({ state: "ns=2;i=4", running: "ns=2;i=5" })),
      "endpoints.0.machines.0.signals.running",
    );
    assert.equal(
      keyOf(m({ running: { nodeId: "ns=2;i=5", values: [] } })),
      "endpoints.0.machines.0.signals.running.values",
    );
  });

  test("alarms: a notifier, optional sources, and alarms as downtime reasons (true: every severity)", () => {
    const alarms = (a: object) =>
      parseBridgeConfig(withMachine({ alarms: a })).endpoints[0]?.machines[0]?.alarms;
    assert.deepEqual(alarms({ notifier: "i=2253", downtimeReason: true }), {
      notifier: "i=2253",
      downtimeReason: { minSeverity: 1 },
    });
    assert.deepEqual(alarms({ notifier: "ns=2;i=1", downtimeReason: { minSeverity: 700 } })?.downtimeReason, {
      minSeverity: 700,
    });
    assert.equal(alarms({ notifier: "ns=2;i=1" })?.downtimeReason, undefined);
    assert.equal(
      keyOf(withMachine({ alarms: { notifier: "Server" } })),
      "endpoints.0.machines.0.alarms.notifier",
    );
    assert.equal(
      keyOf(withMachine({ alarms: { notifier: "i=2253", downtimeReason: { minSeverity: 0 } } })),
      "endpoints.0.machines.0.alarms.downtimeReason.minSeverity",
    );
  });

  test("a vendor profile maps the device's numbers to PackML states", () => {
    const c = parseBridgeConfig({ ...valid, profiles: { acme: { STOPPED: 10, EXECUTE: 20, HELD: 30 } } });
    const e = c.endpoints[0];
    assert.ok(e);
    const m = { ...(e.machines[0] as NonNullable<(typeof e.machines)[0]>), profile: "acme" };
    const table = stateTableFor(c, e, m);
    assert.equal(table.get(20), "EXECUTE");
    assert.equal(table.get(4), undefined);
    assert.equal(stateTableFor(c, e, { ...m, profile: "packtags" }).get(6), "EXECUTE");
    assert.equal(stateTableFor(c, e, { ...m, profile: "tmc" }).get(4), "EXECUTE");
  });

  test("a commands block declares what may be written; it needs the order and lot read-back, one way to write, valid patterns", () => {
    const signals = { ...machine.signals, order: "ns=1;s=L1.Filler.Order", lot: "ns=1;s=L1.Filler.Lot" };
    const method = { object: "ns=1;s=L1.Filler", method: "ns=1;s=L1.Filler.SetOrder" };
    const c = parseBridgeConfig(withMachine({ signals, commands: { setOrder: { method } } }));
    const setOrder = c.endpoints[0]?.machines[0]?.commands?.setOrder;
    assert.deepEqual(setOrder, {
      method,
      orderPattern: "^[A-Za-z0-9/_.-]{1,64}$",
      lotPattern: "^[A-Za-z0-9/_.-]{1,64}$",
      attempts: 3,
      confirmTimeoutMs: 3_000,
    });
    assert.equal(
      parseBridgeConfig(valid).endpoints[0]?.machines[0]?.commands,
      undefined,
      "no command by default",
    );
    assert.equal(
      keyOf(withMachine({ signals: { ...signals, lot: undefined }, commands: { setOrder: { method } } })),
      "endpoints.0.machines.0.signals.lot",
    );
    assert.equal(
      keyOf(withMachine({ signals, commands: { setOrder: {} } })),
      "endpoints.0.machines.0.commands.setOrder.method",
    );
    assert.equal(
      keyOf(
        withMachine({
          signals,
          commands: { setOrder: { method, write: { order: signals.order, lot: signals.lot } } },
        }),
      ),
      "endpoints.0.machines.0.commands.setOrder.write",
    );
    assert.equal(
      keyOf(withMachine({ signals, commands: { setOrder: { method, lotPattern: "([a-z" } } })),
      "endpoints.0.machines.0.commands.setOrder.lotPattern",
    );
    assert.equal(
      keyOf(withMachine({ signals, commands: { setOrder: { method }, start: {} } })),
      "endpoints.0.machines.0.commands.start",
      "an unknown command is named",
    );
  });

  test("a file that is not YAML names the file; YAML works", (t) => {
    const dir = tempDir(t, "threadline-bridge-config-");
    const bad = path.join(dir, "bad.yaml");
    fs.writeFileSync(bad, "endpoints: [\n");
    assert.throws(
      () => loadBridgeConfig(bad),
      (e: unknown) => e instanceof ConfigError && e.key === bad,
    );
    const good = path.join(dir, "good.yaml");
    fs.writeFileSync(
      good,
      [
        "connectorId: bridge-lyon-1",
        "site: lyon",
        "endpoints:",
        "  - id: l1-plc",
        "    url: opc.tcp://127.0.0.1:4840",
        "    machines:",
        "      - { line: l1, machine: filler, signals: { state: 'ns=1;s=lyon.l1.filler.State' } }",
      ].join("\n"),
    );
    assert.equal(loadBridgeConfig(good).endpoints[0]?.machines[0]?.machine, "filler");
  });

  test("threadline bridge --check validates a mapping: exit 0, or exit 2 naming the key", async (t) => {
    const dir = tempDir(t, "threadline-bridge-check-");
    const file = path.join(dir, "plant.json");
    fs.writeFileSync(file, JSON.stringify(valid));
    const ok = await threadline(["bridge", "--config", file, "--check"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /1 endpoints, 1 machines: valid/);
    fs.writeFileSync(file, JSON.stringify(withEndpoint({ url: "opc.tcp://plc:4840", profile: "siemens" })));
    const bad = await threadline(["bridge", "--config", file, "--check"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /endpoints\.0\.profile .*unknown profile siemens \(known: tmc, packtags\)/);
    const noConfig = await threadline(["bridge"]);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /--config/);
    fs.writeFileSync(file, JSON.stringify(valid));
    const liveAlone = await threadline(["bridge", "--config", file, "--live"]);
    assert.equal(liveAlone.code, 2);
    assert.match(liveAlone.stderr, /--live goes with --check/);
  });

  test("threadline bridge --check --live reports an endpoint it cannot reach, exit 1", async (t) => {
    const dir = tempDir(t, "threadline-bridge-live-");
    const file = path.join(dir, "plant.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        ...withEndpoint({ url: "opc.tcp://127.0.0.1:1" }),
        pkiFolder: path.join(dir, "pki"),
      }),
    );
    const run = await threadline(["bridge", "--config", file, "--check", "--live"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /l1-plc opc\.tcp:\/\/127\.0\.0\.1:1: not checked: /);
    assert.match(run.stdout, /1 problem\(s\)/);
  });
});
