/**
 * Specification: the plant's running time as an observer could know it (tools/demo/odoo-vs-plant.ts),
 * which the fault run holds Odoo's work-centre time and the bridged running time to.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { plantTruth, unseenStops } from "../../tools/demo/odoo-vs-plant.js";
import type { MachineGroundTruth } from "../../tools/sim/plant/model.js";

const packer = {
  id: "packer-2",
  line: "line-2",
  state: "EXECUTE",
  good: 10,
  reject: 0,
  transitions: [
    { at: 1_000, from: "IDLE", to: "EXECUTE", cause: "Start" },
    // A hold of 13 s while no bridge was connected, then one of 5 s while one was.
    { at: 20_000, from: "EXECUTE", to: "HOLDING", cause: "Hold" },
    { at: 20_500, from: "HOLDING", to: "HELD", cause: "SC" },
    { at: 33_000, from: "HELD", to: "EXECUTE", cause: "Unhold" },
    { at: 50_000, from: "EXECUTE", to: "HELD", cause: "Hold" },
    { at: 55_000, from: "HELD", to: "EXECUTE", cause: "Unhold" },
  ],
} as unknown as MachineGroundTruth;

test("running time is the time in EXECUTE; a stop that began and ended while nobody watched counts as running, and is named", () => {
  const minutes = (w: { from: number; to: number }[]) =>
    (plantTruth({ "packer-2": packer }, 61_000, new Map([["packer-2", w]])).machines.get("packer-2")
      ?.runningMinutes ?? 0) * 60;
  assert.equal(minutes([]), 42);
  // Unwatched from 15 s to 40 s: the first hold is invisible, the second one is not.
  assert.equal(minutes([{ from: 15_000, to: 40_000 }]), 55);
  // A stop that began before the bridge went away, or ended after it came back, was seen.
  assert.equal(minutes([{ from: 25_000, to: 40_000 }]), 42);
  assert.equal(minutes([{ from: 15_000, to: 30_000 }]), 42);
  assert.deepEqual(
    unseenStops({ "packer-2": packer }, new Map([["packer-2", [{ from: 15_000, to: 40_000 }]]])),
    ["packer-2 13.0 s at 20.0 s"],
  );
});
