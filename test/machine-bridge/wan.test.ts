/**
 * Plant connectivity (docs/plant-connectivity.md): the machine bridge publishes to the plant's leaf node,
 * the hub's MFG_MACHINE / MFG_PRODUCTION source the leaf's streams through its JetStream domain, and a
 * WAN outage only delays events on the hub — every one arrives once, in the plant's order.
 *
 * The servers run with the deployment's own files: the leafnode remote's deny lists come from
 * deploy/plant/leaf.conf and the hub's sources from deploy/plant/hub-*.json.
 */

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, type TestContext, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type JetStreamManager, jetstream, jetstreamManager, type StreamSource } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { parseDuration } from "../../streams/src/declarations.js";
import { applyPlan, planChanges, planSummary, serverFacts } from "../../streams/src/plan.js";
import { readMessages } from "../../streams/src/read.js";
import { platformDeclarations } from "../../tools/manifests.js";
import type { PlantSimulator } from "../../tools/sim/plant/server.js";
import { connectTo, type LocalLeafAndHub, startTestLeafAndHub } from "../harness/nats.js";
import { until } from "../harness/wait.js";
import {
  bridgeConfigFor,
  bridgeSeesPlant,
  drive,
  startBridge,
  startSimulator,
  storedEvents,
  twoMachinePlant,
  units,
} from "./fixture.js";

const DEPLOY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../deploy/plant");
/** The plant's JetStream domain, as in deploy/plant/leaf.conf and the hub's sources. */
const LEAF_DOMAIN = "plant-lyon";
/** The plant streams the hub sources, with the file that declares each hub stream's sources. */
const HUB_STREAM_FILES = { MFG_MACHINE: "hub-mfg-machine.json", MFG_PRODUCTION: "hub-mfg-production.json" };
type PlantStream = keyof typeof HUB_STREAM_FILES;
/** The plant's own streams on the leaf (`nats stream add --config`), sized for the outage to ride out. */
const LEAF_STREAM_FILES: Record<PlantStream, string> = {
  MFG_MACHINE: "leaf-mfg-machine.json",
  MFG_PRODUCTION: "leaf-mfg-production.json",
};
const PLANT_STREAMS = Object.keys(HUB_STREAM_FILES) as PlantStream[];
const REPORTED = "mfg.production.production_reported.v1";

/**
 * Two machines that never stop producing for long, no PLC counter reset (a reset inside an outage would
 * be indistinguishable from a gap in the counter chain); the filler's good counter rolls over, its order
 * changes and the capper is stopped while the WAN is down.
 */
const WAN_PLANT = twoMachinePlant(11, [
  { at: 5_000, machine: "filler", action: "setOrder", order: "WH/MO/00002", lot: "LOT-B" },
  {
    at: 6_000,
    machine: "capper",
    action: "forceStop",
    reason: "MAINT",
    text: "Changeover",
    durationMs: 700,
  },
]);

function readDeploy(file: string): string {
  return fs.readFileSync(path.join(DEPLOY, file), "utf8");
}

/** The `deny_exports` / `deny_imports` lines of the leafnode remote in deploy/plant/leaf.conf. */
function remoteDenyLines(): string {
  const lines = readDeploy("leaf.conf").match(/^\s*deny_(exports|imports)\s*:\s*\[[^\]]*\]/gm) ?? [];
  assert.equal(lines.length, 2, "leaf.conf's remote denies mfg.> both ways (deny_exports and deny_imports)");
  return lines.map((l) => l.trim()).join("\n      ");
}

function hubStreamFile(stream: PlantStream): { sources: StreamSource[] } & Record<string, unknown> {
  return JSON.parse(readDeploy(HUB_STREAM_FILES[stream]));
}

interface Wan {
  readonly pair: LocalLeafAndHub;
  readonly leafNc: NatsConnection;
  readonly hubNc: NatsConnection;
  readonly hubJsm: JetStreamManager;
}

/**
 * The plant's leaf and the hub, each with the declared streams (`streams apply`, local profile); the hub's
 * plant streams get the sources of deploy/plant/hub-*.json.
 */
async function startWan(t: TestContext): Promise<Wan> {
  // The leaf's remote carries the deny lines of deploy/plant/leaf.conf.
  const pair = await startTestLeafAndHub(
    { leafDomain: LEAF_DOMAIN, remoteExtraConfig: remoteDenyLines() },
    t,
  );
  const [leafNc, hubNc] = [await connectTo(pair.leaf, {}, t), await connectTo(pair.hub, {}, t)];
  const decl = platformDeclarations({ profile: "local" });
  for (const nc of [leafNc, hubNc]) {
    const jsm = await jetstreamManager(nc);
    await applyPlan(jsm, await planChanges(jsm, decl, serverFacts(nc)), { force: false });
  }
  const hubJsm = await jetstreamManager(hubNc);
  for (const stream of PLANT_STREAMS)
    await hubJsm.streams.update(stream, { sources: hubStreamFile(stream).sources });
  return { pair, leafNc, hubNc, hubJsm };
}

/** Messages in a stream. */
async function count(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
}

interface StoredMessage {
  readonly id: string;
  readonly subject: string;
  /** Arrived through sourcing (has a `Nats-Stream-Source` header). */
  readonly sourced: boolean;
}

/** Every message of a stream, in stream order: its Nats-Msg-Id and subject (not decoded). */
async function storedMessages(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for await (const m of readMessages(nc, { stream, batch: 1000, headersOnly: true }))
    out.push({
      id: m.headers?.get("Nats-Msg-Id") ?? "",
      subject: m.subject,
      sourced: m.headers?.has("Nats-Stream-Source") ?? false,
    });
  return out;
}

/** Good and reject totals per machine, as stored in MFG_PRODUCTION of `nc`'s server. */
async function storedTotals(nc: NatsConnection): Promise<string> {
  const out: Record<string, { good: number; reject: number }> = {};
  for (const e of await storedEvents(nc, REPORTED)) {
    const machine = e.value.equipment.machine as string;
    out[machine] ??= { good: 0, reject: 0 };
    const t = out[machine];
    t.good += units([e.value.goodQuantity]);
    t.reject += units([e.value.rejectQuantity]);
  }
  return JSON.stringify(Object.fromEntries(Object.entries(out).sort()));
}

function truthTotals(sim: PlantSimulator): string {
  const truth = Object.entries(sim.model.groundTruth()).map(([id, m]) => [
    id,
    { good: m.good, reject: m.reject },
  ]);
  return JSON.stringify(Object.fromEntries(truth.sort()));
}

/** Waits until the production reports stored on `nc`'s server add up to the simulator's ground truth. */
async function totalsMatch(nc: NatsConnection, sim: PlantSimulator, where: string): Promise<void> {
  let last = "";
  await until(
    `the production totals on the ${where} equal the ground truth`,
    async () => {
      const [stored, truth] = [await storedTotals(nc), truthTotals(sim)];
      last = `stored ${stored}, truth ${truth}`;
      return stored === truth;
    },
    { timeoutMs: 20_000, intervalMs: 200, detail: () => last },
  );
}

/** Waits until the hub has received some of the plant's events through the link (sourcing is running). */
async function hubReceiving(wan: Wan): Promise<void> {
  await until("the hub sources production reports from the plant", async () =>
    (await storedEvents(wan.hubNc, REPORTED)).length > 0 ? true : undefined,
  );
}

/**
 * What the hub must hold once the plant is back: per plant stream, exactly the leaf's messages, in the
 * leaf's order, each once; the production reports chain per machine without gap or overlap.
 */
async function assertHubHoldsThePlantExactly(wan: Wan): Promise<void> {
  for (const stream of PLANT_STREAMS) {
    const leaf = await storedMessages(wan.leafNc, stream);
    const sourced = async () => (await storedMessages(wan.hubNc, stream)).filter((m) => m.sourced);
    await until(
      `the hub's ${stream} has sourced the plant's ${leaf.length} messages`,
      async () => (await sourced()).length >= leaf.length,
      { intervalMs: 200 },
    );
    const hub = await sourced();
    assert.ok(leaf.length > 0, `${stream} has events`);
    assert.deepEqual(
      hub.map((m) => [m.id, m.subject]),
      leaf.map((m) => [m.id, m.subject]),
      `the hub's ${stream} holds the plant's, in order`,
    );
    assert.equal(new Set(hub.map((m) => m.id)).size, hub.length, `no event id twice in the hub's ${stream}`);
  }
  const reports = await storedEvents(wan.hubNc, REPORTED);
  for (const id of ["filler", "capper"]) {
    const mine = reports.filter((r) => r.value.equipment.machine === id);
    assert.ok(mine.length > 10, `${id} reported production (${mine.length} reports)`);
    for (let i = 1; i < mine.length; i++) {
      const [prev, cur] = [mine[i - 1]?.value, mine[i]?.value];
      assert.deepEqual(
        [cur?.goodCounterFrom, cur?.rejectCounterFrom],
        [prev?.goodCounterTo, prev?.rejectCounterTo],
        `${id} report ${i} continues report ${i - 1}`,
      );
    }
  }
}

/** Messages in the plant streams of `nc`'s server, e.g. `{ MFG_MACHINE: 40, MFG_PRODUCTION: 12 }`. */
async function counts(nc: NatsConnection): Promise<Record<PlantStream, number>> {
  return { MFG_MACHINE: await count(nc, "MFG_MACHINE"), MFG_PRODUCTION: await count(nc, "MFG_PRODUCTION") };
}

describe("plant connectivity: bridge -> leaf node -> hub sourcing", () => {
  test("the hub stream files are the declared production streams plus the plant's sources", () => {
    const declared = platformDeclarations({ profile: "production" }).streams;
    for (const stream of PLANT_STREAMS) {
      const file = hubStreamFile(stream);
      const d = declared[stream];
      assert.ok(d, `${stream} is declared`);
      // `nats stream edit --config` replaces the whole config: a stale file would revert `streams apply`.
      assert.deepEqual(
        {
          name: file["name"],
          description: file["description"],
          subjects: file["subjects"],
          retention: file["retention"],
          storage: file["storage"],
          num_replicas: file["num_replicas"],
          max_age: file["max_age"],
          max_bytes: file["max_bytes"],
          max_msg_size: file["max_msg_size"],
          discard: file["discard"],
          duplicate_window: file["duplicate_window"],
        },
        {
          name: stream,
          description: d.description,
          subjects: d.subjects,
          retention: d.retention,
          storage: d.storage,
          num_replicas: d.replicas,
          max_age: parseDuration(d.maxAge) * 1e6,
          max_bytes: d.maxBytes,
          max_msg_size: d.maxMsgSize,
          discard: d.discard,
          duplicate_window: parseDuration(d.duplicateWindow) * 1e6,
        },
        `${HUB_STREAM_FILES[stream]} matches the declaration of ${stream}`,
      );
      assert.deepEqual(file.sources, [
        { name: stream, external: { api: `$JS.${LEAF_DOMAIN}.API`, deliver: "" } },
      ]);
    }
  });

  test("the plant stream files keep the declared names, subjects, discard and duplicate window, and fit the leaf's store", () => {
    const declared = platformDeclarations({ profile: "production" }).streams;
    let reserved = 0;
    for (const stream of PLANT_STREAMS) {
      const file = JSON.parse(readDeploy(LEAF_STREAM_FILES[stream])) as Record<
        string,
        number | string | string[]
      >;
      const d = declared[stream];
      assert.ok(d, `${stream} is declared`);
      // The bridge publishes to and resumes from the declared names and subjects; the policies are the domain's.
      assert.deepEqual(
        [file["name"], file["subjects"], file["discard"], file["duplicate_window"], file["max_msg_size"]],
        [stream, d.subjects, d.discard, parseDuration(d.duplicateWindow) * 1e6, d.maxMsgSize],
        `${LEAF_STREAM_FILES[stream]} keeps the declaration of ${stream}`,
      );
      assert.ok(
        Number(file["max_age"]) >= Number(file["duplicate_window"]),
        `${stream}: duplicate window ≤ max age`,
      );
      reserved += Number(file["max_bytes"]);
    }
    const store = /max_file_store:\s*(\d+)GB/.exec(readDeploy("leaf.conf"));
    assert.ok(store, "leaf.conf sets max_file_store in GB");
    assert.ok(
      reserved < Number(store[1]) * 1024 ** 3,
      "the plant streams' max_bytes fit in the leaf's store",
    );
  });

  test("a WAN outage: the leaf keeps accepting, the hub catches up by itself with every event exactly once", async (t) => {
    const sim = await startSimulator(t, WAN_PLANT);
    const wan = await startWan(t);
    // `streams apply` on the hub leaves the sources alone (it changes only what it declares).
    const decl = platformDeclarations({ profile: "local" });
    const replan = planSummary(await planChanges(wan.hubJsm, decl, serverFacts(wan.hubNc)));
    assert.deepEqual([replan.create, replan.update, replan.destructive], [0, 0, 0]);

    const bridge = await startBridge(t, wan.leafNc, bridgeConfigFor(sim));
    await bridgeSeesPlant(bridge, 2);
    await drive(sim, 3_000);
    await hubReceiving(wan);

    await wan.pair.cutLink();
    const hubAtCut = await counts(wan.hubNc);
    const leafAtCut = await counts(wan.leafNc);
    await drive(sim, 6_000); // the plant keeps producing, the bridge keeps publishing to the leaf
    // Everything the plant made so far is in the leaf while the WAN is still down: the bridge never stalled.
    await totalsMatch(wan.leafNc, sim, "leaf");
    const leafBeforeRestore = await counts(wan.leafNc);
    const hubBeforeRestore = await counts(wan.hubNc);
    for (const s of PLANT_STREAMS) {
      assert.ok(leafBeforeRestore[s] > leafAtCut[s], `the leaf's ${s} grew during the outage`);
      assert.equal(hubBeforeRestore[s], hubAtCut[s], `the hub's ${s} received nothing during the outage`);
    }
    // The hub's own publishers write to the same stream; their events stay at the hub (deny_imports).
    const ack = await jetstream(wan.hubNc).publish("mfg.production.hub_probe.hub", "from the hub");
    assert.deepEqual([ack.stream, ack.domain], ["MFG_PRODUCTION", "hub"]);

    await wan.pair.restoreLink();
    await drive(sim, 2_000);
    await totalsMatch(wan.hubNc, sim, "hub");
    await bridge.stop(); // nothing more is published: the leaf's streams are final

    await assertHubHoldsThePlantExactly(wan);
    const hubAfter = await counts(wan.hubNc);
    for (const s of PLANT_STREAMS)
      assert.ok(hubBeforeRestore[s] < hubAfter[s], `the hub's ${s} caught up after the outage`);
    const leafInfo = await (await jetstreamManager(wan.leafNc)).streams.info("MFG_PRODUCTION", {
      subjects_filter: "mfg.production.hub_probe.>",
    });
    assert.equal(
      leafInfo.state.subjects?.["mfg.production.hub_probe.hub"],
      undefined,
      "hub events stay at the hub",
    );
  });

  test("a bridge restarted during the outage resumes from the leaf: the hub still gets every event once", async (t) => {
    const sim = await startSimulator(t, WAN_PLANT);
    const wan = await startWan(t);
    const first = await startBridge(t, wan.leafNc, bridgeConfigFor(sim));
    await bridgeSeesPlant(first, 2);
    await drive(sim, 3_000);
    await hubReceiving(wan);

    await wan.pair.cutLink();
    const hubAtCut = await counts(wan.hubNc);
    await drive(sim, 2_000);
    await first.stop();
    await drive(sim, 2_000); // no bridge and no WAN: the PLC counters keep counting
    const second = await startBridge(t, wan.leafNc, bridgeConfigFor(sim)); // resumes from the leaf's streams, WAN still down
    await drive(sim, 2_000);
    await totalsMatch(wan.leafNc, sim, "leaf");
    assert.deepEqual(await counts(wan.hubNc), hubAtCut, "the hub received nothing during the outage");

    await wan.pair.restoreLink();
    await drive(sim, 2_000);
    await totalsMatch(wan.hubNc, sim, "hub");
    await second.stop(); // nothing more is published: the leaf's streams are final

    await assertHubHoldsThePlantExactly(wan);
    const hubAfter = await counts(wan.hubNc);
    for (const s of PLANT_STREAMS)
      assert.ok(hubAtCut[s] < hubAfter[s], `the hub's ${s} caught up after the outage`);
  });
});
