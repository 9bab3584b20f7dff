/**
 * The bridge when the plant misbehaves: machines that cannot be reached, links that keep dropping,
 * secured endpoints and refused credentials, and a bridge process killed mid-run.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import { CONNECTOR_STATE_BUCKET } from "../../services/machine-bridge/src/bridge.js";
import { machineBridgeManifest } from "../../services/machine-bridge/src/manifest.js";
import type { PlantConfigInput } from "../../tools/sim/plant/config.js";
import { freePort } from "../../tools/sim/plant/server.js";
import { LinkProxy } from "../harness/nats.js";
import { leastPrivilege } from "../harness/permissions.js";
import { until } from "../harness/wait.js";
import {
  bridgeConfigFor,
  bridgeSeesPlant,
  drive,
  startBridge,
  startSimulator,
  startStreams,
  storedEvents,
  tempDir,
  units,
} from "./fixture.js";

const ONE_MACHINE: PlantConfigInput = {
  seed: 3,
  sites: [
    { id: "lyon", lines: [{ id: "l2", machines: [{ id: "press", cycleTimeMs: 50, rejectRate: 0.1 }] }] },
  ],
};

async function storedGood(nc: Parameters<typeof storedEvents>[0]): Promise<number> {
  return units(
    (await storedEvents(nc, "mfg.production.production_reported.v1")).map((e) => e.value.goodQuantity),
  );
}

async function goodMatches(nc: Parameters<typeof storedEvents>[0], truth: () => number): Promise<void> {
  let last = "";
  await until(
    "the stored good quantity equals the ground truth",
    async () => {
      const stored = await storedGood(nc);
      last = `stored ${stored}, truth ${truth()}`;
      return stored === truth();
    },
    { timeoutMs: 20_000, intervalMs: 200, detail: () => last },
  );
}

const statuses = async (nc: Parameters<typeof storedEvents>[0], endpoint?: string) =>
  (await storedEvents(nc, "mfg.machine.connector_status_changed.v1"))
    .filter((e) => endpoint === undefined || e.value.endpoint === endpoint)
    .map((e) => e.value.status);

describe("machine bridge robustness", () => {
  test("an unreachable machine is reported OFFLINE while the other endpoints keep working", async (t) => {
    const sim = await startSimulator(t, ONE_MACHINE);
    const { nc } = await startStreams(t);
    const deadUrl = `opc.tcp://127.0.0.1:${await freePort("127.0.0.1")}`;
    const config = bridgeConfigFor(sim);
    const live = config.endpoints[0] as NonNullable<(typeof config.endpoints)[0]>;
    config.endpoints.push({
      ...live,
      id: "dead-plc",
      url: deadUrl,
      machines: live.machines.map((m) => ({ ...m, line: "l9" })),
    });
    const bridge = await startBridge(t, nc, config);
    await until("the dead endpoint is reported OFFLINE", async () =>
      (await statuses(nc, deadUrl)).includes("OFFLINE"),
    );
    await bridgeSeesPlant(bridge, 1);
    await drive(sim, 2_000);
    await goodMatches(nc, () => sim.model.groundTruth()["press"]?.good ?? -1);
    assert.deepEqual(bridge.endpointStatus(), { "plant-sim": "ONLINE", "dead-plc": "OFFLINE" });
    const offline = (await storedEvents(nc, "mfg.machine.connector_status_changed.v1")).find(
      (e) => e.value.endpoint === deadUrl,
    );
    assert.equal(offline?.value.previousStatus, "UNKNOWN");
    assert.ok(offline?.value.reason, "the OFFLINE event says why");
    assert.equal(offline?.value.equipment[0]?.line, "l9");
  });

  test("a link that keeps dropping: the session is reactivated each time, never piled up (no BadTooManySessions)", async (t) => {
    const sim = await startSimulator(t, ONE_MACHINE, { maxSessions: 2 });
    const { nc } = await startStreams(t);
    const proxy = await LinkProxy.listen(sim.port);
    t.after(() => proxy.close());
    const bridge = await startBridge(t, nc, bridgeConfigFor(sim, `opc.tcp://127.0.0.1:${proxy.port}`));
    await until("the bridge is online", () => bridge.endpointStatus()["plant-sim"] === "ONLINE");
    await bridgeSeesPlant(bridge, 1);
    for (let cut = 0; cut < 6; cut++) {
      proxy.setCut(true);
      await until(
        `the bridge notices cut ${cut + 1}`,
        () => bridge.endpointStatus()["plant-sim"] === "OFFLINE",
      );
      await drive(sim, 300); // the plant keeps producing during the cut
      proxy.setCut(false);
      await until(
        `the bridge is back after cut ${cut + 1}`,
        () => bridge.endpointStatus()["plant-sim"] === "ONLINE",
        {
          timeoutMs: 20_000,
        },
      );
    }
    await drive(sim, 1_000);
    await goodMatches(nc, () => sim.model.groundTruth()["press"]?.good ?? -1);
    // With room for two sessions, six cuts would have failed with BadTooManySessions had the
    // bridge left its old session behind each time.
    assert.equal(sim.currentSessionCount(), 1, "one session on the server");
  });

  test("a secured endpoint with username/password works; a wrong password is reported, never crashes", async (t) => {
    const sim = await startSimulator(t, ONE_MACHINE, {
      users: [{ username: "bridge", password: "s3cret-line-2" }],
      allowAnonymous: false,
    });
    const { nc } = await startStreams(t);
    const secured = (connectorId: string) =>
      bridgeConfigFor(sim, sim.endpointUrl, {
        connectorId,
        overrides: { trustUnknownServerCertificates: true },
        endpoint: {
          security: { mode: "SignAndEncrypt", policy: "Basic256Sha256" },
          user: { username: "bridge", passwordEnv: "PLANT_PASSWORD" },
        },
      });
    const wrong = await startBridge(t, nc, secured("bridge-wrong"), { PLANT_PASSWORD: "guess" });
    await until("the refused login is reported", async () => (await statuses(nc)).includes("OFFLINE"));
    const refused = (await storedEvents(nc, "mfg.machine.connector_status_changed.v1"))[0];
    assert.match(
      refused?.value.reason ?? "",
      /BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid/,
    );
    await wrong.stop();
    const right = await startBridge(t, nc, secured("bridge-right"), { PLANT_PASSWORD: "s3cret-line-2" });
    await until("the secured bridge is online", async () => (await statuses(nc)).includes("ONLINE"));
    await bridgeSeesPlant(right, 1);
    await drive(sim, 1_000);
    await goodMatches(nc, () => sim.model.groundTruth()["press"]?.good ?? -1);
  });

  test("the bridge service, as its least-privilege NATS user, killed with SIGKILL mid-run: a new process resumes without loss or double count", async (t) => {
    const sim = await startSimulator(t, ONE_MACHINE);
    // The bridge runs as the user its access file derives (services/machine-bridge/access.yaml).
    const auth = leastPrivilege(machineBridgeManifest);
    const { server, nc } = await startStreams(t, { extraConfig: auth.authorization }, auth.admin);
    const dir = tempDir(t, "threadline-bridge-kill-");
    const configFile = path.join(dir, "bridge.json");
    fs.writeFileSync(configFile, JSON.stringify(bridgeConfigFor(sim)));
    const logs: string[] = [];
    const startProcess = () => {
      const child = spawn(process.execPath, [path.resolve("dist/services/machine-bridge/src/main.js")], {
        env: {
          ...process.env,
          NATS_URL: server.clientUrl,
          NATS_USER: auth.service.user,
          NATS_PASSWORD: auth.service.pass,
          BRIDGE_CONFIG: configFile,
          HTTP_HOST: "127.0.0.1",
          HTTP_PORT: "0",
          LOG_LEVEL: "info",
          // The restarted process waits out its predecessor's endpoint lease (a new holder): keep it short.
          LEASE_TTL_MS: "3000",
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      t.after(() => child.kill("SIGKILL"));
      child.stdout?.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
      return child;
    };
    const first = startProcess();
    // Its health server (the port is in its "service running" log line) says when the machine's
    // state and counters have been read: the baseline, before which the plant must not move.
    const url = await until(
      "the first bridge process serves HTTP",
      () => /"url":"(http:[^"]+)"/.exec(logs.join(""))?.[1],
      {
        timeoutMs: 30_000,
      },
    );
    await until("the first bridge process has read the machine", async () =>
      /^threadline_bridge_machines_baselined 1$/m.test(await (await fetch(`${url}/metrics`)).text()),
    );
    await drive(sim, 2_000);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    await drive(sim, 1_000); // produced while no bridge runs
    startProcess();
    await drive(sim, 2_000);
    await goodMatches(nc, () => sim.model.groundTruth()["press"]?.good ?? -1);
    const reports = await storedEvents(nc, "mfg.production.production_reported.v1");
    for (let i = 1; i < reports.length; i++)
      assert.equal(
        reports[i]?.value.goodCounterFrom,
        reports[i - 1]?.value.goodCounterTo,
        `report ${i} continues the previous`,
      );
    // The live status record ops look at: the connector-state KV bucket.
    const kv = await new Kvm(nc).open(CONNECTOR_STATE_BUCKET);
    const record = await until("the status record", async () =>
      (await kv.get("machine-bridge.machine-bridge-sim.plant-sim"))?.json<{
        status: string;
        lastHeartbeatAt: string;
      }>(),
    );
    assert.equal(record.status, "ONLINE");
    assert.ok(Date.now() - Date.parse(record.lastHeartbeatAt) < 10_000);
    assert.doesNotMatch(
      logs.join(""),
      /Permissions Violation|PERMISSIONS|permission/i,
      "no permission error in the bridge's logs",
    );
  });
});
