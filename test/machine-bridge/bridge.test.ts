/**
 * The machine bridge against the plant simulator (a real OPC UA server) and a real nats-server:
 * what it stores must match the simulator's ground truth exactly.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import type { PlantSimulator } from "../../tools/sim/plant/server.js";
import { until } from "../harness/wait.js";
import {
  bridgeConfigFor,
  bridgeSeesPlant,
  drive,
  startBridge,
  startSimulator,
  startStreams,
  storedEvents,
  twoMachinePlant,
  units,
} from "./fixture.js";

/** Two machines: one near its counter's rollover, one that gets a PLC counter reset; random stops. */
export const PLANT = twoMachinePlant(7, [
  { at: 3_000, machine: "filler", action: "setOrder", order: "WH/MO/00002", lot: "LOT-B" },
  { at: 6_500, machine: "capper", action: "resetCounters" },
  {
    at: 5_000,
    machine: "capper",
    action: "forceStop",
    reason: "MAINT",
    text: "Changeover",
    durationMs: 700,
  },
]);

interface Totals {
  good: number;
  reject: number;
}

async function storedTotals(nc: NatsConnection): Promise<Record<string, Totals>> {
  const out: Record<string, Totals> = {};
  for (const e of await storedEvents(nc, "mfg.production.production_reported.v1")) {
    const m = e.value.equipment.machine as string;
    out[m] ??= { good: 0, reject: 0 };
    const t = out[m];
    t.good += units([e.value.goodQuantity]);
    t.reject += units([e.value.rejectQuantity]);
  }
  return out;
}

function truthTotals(sim: PlantSimulator): Record<string, Totals> {
  return Object.fromEntries(
    Object.entries(sim.model.groundTruth()).map(([id, m]) => [id, { good: m.good, reject: m.reject }]),
  );
}

/** Waits until the bridge has stored exactly the simulator's totals (fails with both on timeout). */
async function totalsMatch(nc: NatsConnection, sim: PlantSimulator): Promise<void> {
  let last = "";
  await until(
    "the stored production totals equal the ground truth",
    async () => {
      // By machine name: which machine's first report lands first is a race between their outboxes.
      const sorted = (totals: Record<string, Totals>) => JSON.stringify(Object.entries(totals).sort());
      const [stored, truth] = [sorted(await storedTotals(nc)), sorted(truthTotals(sim))];
      last = `stored ${stored}, truth ${truth}`;
      return stored === truth;
    },
    { timeoutMs: 20_000, intervalMs: 200, detail: () => last },
  );
}

describe("machine bridge against the plant simulator", () => {
  test("states, downtimes and production totals equal the simulator's ground truth", async (t) => {
    const sim = await startSimulator(t, PLANT);
    const { nc } = await startStreams(t);
    const registry = new Registry();
    const bridge = await startBridge(t, nc, bridgeConfigFor(sim), {}, registry);
    await bridgeSeesPlant(bridge, 2);
    await drive(sim, 8_000);
    await totalsMatch(nc, sim);
    await bridge.flush();
    const outbox = await registry.getSingleMetric("threadline_bridge_outbox_events")?.get();
    assert.deepEqual(
      outbox?.values.map((v) => v.value),
      [0, 0],
      "nothing left in the outboxes once everything is stored",
    );

    const truth = sim.model.groundTruth();
    // Every transition, in order, with the simulator's own time.
    const states = await storedEvents(nc, "mfg.machine.machine_state_changed.v1");
    for (const [id, m] of Object.entries(truth)) {
      const mine = states.filter((s) => s.value.equipment.machine === id).slice(1); // the first is the initial state
      assert.deepEqual(
        mine.map((s) => [
          s.value.previousState,
          s.value.state,
          s.value.changedAt.getTime() - sim.startEpochMs,
        ]),
        m.transitions.map((tr) => [tr.from, tr.to, tr.at]),
        `transitions of ${id}`,
      );
    }
    // Downtime durations to the millisecond, with their reasons.
    const ended = await storedEvents(nc, "mfg.machine.downtime_ended.v1");
    for (const [id, m] of Object.entries(truth)) {
      const closed = m.downtime.filter((d) => d.end !== null);
      assert.ok(closed.length > 0, `${id} had downtime in this run`);
      assert.deepEqual(
        ended
          .filter((e) => e.value.equipment.machine === id)
          .map((e) => [Number(e.value.durationMillis), e.value.reason?.code ?? null]),
        closed.map((d) => [d.durationMs, d.reason?.code ?? null]),
        `downtimes of ${id}`,
      );
    }
    // Quantities per order and lot, as the machine ran them.
    const reports = await storedEvents(nc, "mfg.production.production_reported.v1");
    for (const [id, m] of Object.entries(truth)) {
      const byOrder = new Map<string, number>();
      // Reports of running time only (nothing counted) carry no quantity.
      for (const r of reports.filter(
        (e) => e.value.equipment.machine === id && units([e.value.goodQuantity]) > 0,
      )) {
        const k = `${r.value.orderRef}/${r.value.lot}`;
        byOrder.set(k, (byOrder.get(k) ?? 0) + units([r.value.goodQuantity]));
      }
      const expected = new Map<string, number>();
      for (const o of m.byOrder)
        expected.set(`${o.order}/${o.lot}`, (expected.get(`${o.order}/${o.lot}`) ?? 0) + o.good);
      for (const [k, v] of expected) if (v === 0) expected.delete(k);
      assert.deepEqual(
        Object.fromEntries(byOrder),
        Object.fromEntries(expected),
        `per-order totals of ${id}`,
      );
    }
    assert.ok(truth["filler"]?.rollovers.good, "the filler's good counter rolled over during the run");
    assert.equal(truth["capper"]?.counterResets, 1);
    // Telemetry arrives batched, in source order.
    const telemetry = await storedEvents(nc, "mfg.machine.telemetry_sampled.v1");
    const samples = telemetry.flatMap((e) => e.value.samples);
    assert.ok(samples.length >= 20, `telemetry samples stored: ${samples.length}`);
    assert.ok(telemetry.length < samples.length, "samples are batched");
  });

  test("a bridge restarted mid-run resumes from the stream: nothing lost, nothing counted twice", async (t) => {
    const sim = await startSimulator(t, PLANT);
    const { nc } = await startStreams(t);
    const first = await startBridge(t, nc, bridgeConfigFor(sim));
    await bridgeSeesPlant(first, 2);
    await drive(sim, 3_000);
    await first.stop();
    await drive(sim, 2_000); // the plant keeps producing while no bridge runs
    await startBridge(t, nc, bridgeConfigFor(sim));
    await drive(sim, 3_000);
    await totalsMatch(nc, sim);
    // The counter ranges chain without gaps or overlaps, per machine.
    const reports = await storedEvents(nc, "mfg.production.production_reported.v1");
    for (const id of ["filler", "capper"]) {
      const mine = reports.filter((r) => r.value.equipment.machine === id);
      for (let i = 1; i < mine.length; i++)
        assert.equal(
          mine[i]?.value.goodCounterFrom,
          mine[i - 1]?.value.goodCounterTo,
          `${id} report ${i} continues the previous`,
        );
    }
  });

  test("an OPC UA server restart: the bridge goes OFFLINE, reconnects, recreates its subscription and keeps counting", async (t) => {
    const sim = await startSimulator(t, PLANT);
    const { nc } = await startStreams(t);
    const bridge = await startBridge(t, nc, bridgeConfigFor(sim));
    await bridgeSeesPlant(bridge, 2);
    await drive(sim, 2_000);
    const restarting = sim.restartServer({ downMs: 1_500 });
    await drive(sim, 1_500);
    await restarting;
    await drive(sim, 4_000);
    await totalsMatch(nc, sim);
    const statuses = (await storedEvents(nc, "mfg.machine.connector_status_changed.v1")).map(
      (e) => e.value.status,
    );
    assert.deepEqual(statuses.slice(0, 3), ["ONLINE", "OFFLINE", "ONLINE"]);
    assert.equal(bridge.endpointStatus()["plant-sim"], "ONLINE");
  });
});
