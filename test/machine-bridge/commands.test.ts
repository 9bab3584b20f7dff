/**
 * Commands to machines through the bridge (SET_ORDER), against the plant simulator (a real OPC UA
 * server) and a real nats-server: what the machine holds afterwards, the reply, the audit.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { errors as natsErrors } from "@nats-io/nats-core";
import { Registry } from "prom-client";
import type { BridgeConfigInput } from "../../services/machine-bridge/src/config.js";
import {
  type MachineCommandReply,
  type MachineCommandRequest,
  machineCommandSubject,
  sendMachineCommand,
} from "../../streams/src/machine-commands.js";
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
} from "./fixture.js";

const FILLER = { site: "lyon", line: "l1", machine: "filler" };
const CAPPER = { site: "lyon", line: "l1", machine: "capper" };
const AUDIT = "mfg.machine.machine_command_executed.v1";

const setOrder = (requestId: string, order: string | null, lot: string | null): MachineCommandRequest => ({
  requestId,
  requestedBy: "production-orchestrator",
  body: { command: "SET_ORDER", order, lot },
});

/** The bridge config of the simulator with `edit` applied to each machine's mapping. */
function configWith(
  config: BridgeConfigInput,
  edit: (m: Record<string, unknown> & { machine: string }) => void,
): BridgeConfigInput {
  for (const m of config.endpoints[0]?.machines ?? []) edit(m as never);
  return config;
}

async function commandCount(registry: Registry, outcome: string): Promise<number> {
  const metric = await registry.getSingleMetric("threadline_bridge_commands_total")?.get();
  return (metric?.values ?? [])
    .filter((v) => v.labels["outcome"] === outcome)
    .reduce((n, v) => n + v.value, 0);
}

describe("machine bridge - commands to machines", () => {
  test("SET_ORDER is written, read back and CONFIRMED; the next reports carry the order; a re-sent request is answered the same, written and audited once", async (t) => {
    const sim = await startSimulator(t, twoMachinePlant(21, []));
    const { nc } = await startStreams(t);
    const registry = new Registry();
    const bridge = await startBridge(t, nc, bridgeConfigFor(sim), {}, registry);
    await bridgeSeesPlant(bridge, 2);

    const request = setOrder("req-0001", "WH/MO/00077", "LOT-77");
    const reply = await sendMachineCommand(nc, FILLER, request);
    assert.equal(reply.outcome, "CONFIRMED", reply.message ?? "");
    assert.equal(reply.requestId, "req-0001");
    assert.equal(reply.attempts, 1);
    assert.equal(reply.message, null);
    assert.equal(typeof reply.auditEventId, "string");
    const filler = sim.model.snapshot("filler");
    assert.deepEqual([filler.order, filler.lot], ["WH/MO/00077", "LOT-77"], "the machine holds them");
    assert.deepEqual(
      [sim.model.snapshot("capper").order, sim.model.snapshot("capper").lot],
      ["WH/MO/00001", null],
      "no other machine was touched",
    );

    // The machine runs the order: what it counts from now on is reported under it.
    await drive(sim, 2_000);
    await bridge.flush();
    const reports = (await storedEvents(nc, "mfg.production.production_reported.v1")).filter(
      (r) => r.value.equipment.machine === "filler",
    );
    const last = reports.at(-1)?.value;
    assert.deepEqual([last?.orderRef, last?.lot], ["WH/MO/00077", "LOT-77"]);

    // Re-sent (the sender timed out, say): the same reply, nothing written again, one audit.
    sim.model.setOrder("filler", "WH/MO/00078", "LOT-78"); // someone at the HMI changed it since
    const again = await sendMachineCommand(nc, FILLER, request);
    assert.deepEqual(again, reply);
    assert.equal(sim.model.snapshot("filler").order, "WH/MO/00078", "the re-sent request wrote nothing");
    const audits = await until("the audit", async () => {
      const a = await storedEvents(nc, AUDIT);
      return a.length > 0 ? a : undefined;
    });
    assert.equal(audits.length, 1, "one audit for one command");
    const audit = audits[0];
    assert.equal(audit?.id, reply.auditEventId);
    assert.equal(audit?.subject, "mfg.machine.machine_command_executed.lyon.l1.filler");
    assert.deepEqual(
      {
        command: audit?.value.command,
        order: audit?.value.order,
        lot: audit?.value.lot,
        requestedBy: audit?.value.requestedBy,
        outcome: audit?.value.outcome,
        message: audit?.value.message,
        attempts: audit?.value.attempts,
        machine: audit?.value.equipment.machine,
      },
      {
        command: "SET_ORDER",
        order: "WH/MO/00077",
        lot: "LOT-77",
        requestedBy: "production-orchestrator/req-0001",
        outcome: "CONFIRMED",
        message: null,
        attempts: 1,
        machine: "filler",
      },
    );
    assert.ok(audit && audit.value.answeredAt >= audit.value.requestedAt);
    assert.equal(await commandCount(registry, "CONFIRMED"), 1, "the re-sent request is not counted again");

    // The same requestId with another command is refused, not executed.
    const reused = await sendMachineCommand(nc, FILLER, setOrder("req-0001", "WH/MO/00099", null));
    assert.equal(reused.outcome, "INVALID");
    assert.match(reused.message ?? "", /requestId req-0001 was already used for another command/);
    assert.equal(sim.model.snapshot("filler").order, "WH/MO/00078");
  });

  test("INVALID, nothing written: a value breaking the pattern, a machine without commands, a malformed request; an unmapped machine has no responder", async (t) => {
    const sim = await startSimulator(t, twoMachinePlant(22, []));
    const { nc } = await startStreams(t);
    const registry = new Registry();
    const config = configWith(bridgeConfigFor(sim), (m) => {
      if (m.machine === "capper") delete m["commands"];
    });
    const bridge = await startBridge(t, nc, config, {}, registry);
    await bridgeSeesPlant(bridge, 2);
    const before = () => [sim.model.snapshot("filler").order, sim.model.snapshot("capper").order];
    const was = before();

    const badOrder = await sendMachineCommand(nc, FILLER, setOrder("req-bad-1", "WH MO 1; DROP", "LOT-1"));
    assert.equal(badOrder.outcome, "INVALID");
    assert.equal(badOrder.attempts, 0);
    assert.match(
      badOrder.message ?? "",
      /^order "WH MO 1; DROP" is not allowed on lyon\/l1\/filler: it must match \^\[A-Za-z0-9\/_\.-\]\{1,64\}\$ \(commands\.setOrder\.orderPattern\)$/,
    );
    const longLot = await sendMachineCommand(nc, FILLER, setOrder("req-bad-2", "WH/MO/1", "L".repeat(65)));
    assert.equal(longLot.outcome, "INVALID");
    assert.match(longLot.message ?? "", /^lot "L+" is not allowed/);

    const noCommands = await sendMachineCommand(nc, CAPPER, setOrder("req-capper", "WH/MO/00005", "LOT-5"));
    assert.equal(noCommands.outcome, "INVALID");
    assert.equal(
      noCommands.message,
      "lyon/l1/capper accepts no SET_ORDER: its mapping declares no commands.setOrder",
    );

    const shape = await sendMachineCommand(nc, FILLER, {
      requestId: "req-shape",
      requestedBy: "production-orchestrator",
      body: { command: "SET_ORDER", order: 42, lot: null } as never,
    });
    assert.equal(shape.outcome, "INVALID");
    assert.match(shape.message ?? "", /^malformed SET_ORDER: body\.order: /);
    const unknown = await sendMachineCommand(nc, FILLER, {
      requestId: "req-start",
      requestedBy: "production-orchestrator",
      body: { command: "START" } as never,
    });
    assert.equal(unknown.message, 'unknown command "START" (known: SET_ORDER)');

    const notJson = (
      await nc.request(machineCommandSubject("lyon", "l1", "filler"), "SET_ORDER please", {
        timeout: 5_000,
      })
    ).json<MachineCommandReply>();
    assert.equal(notJson.outcome, "INVALID");
    assert.equal(notJson.auditEventId, null, "nothing to audit under: no requestId");
    assert.match(notJson.message ?? "", /^not JSON: /);

    assert.deepEqual(before(), was, "nothing was written");
    const audits = await until("the audits", async () => {
      const a = await storedEvents(nc, AUDIT);
      return a.length >= 5 ? a : undefined;
    });
    assert.deepEqual(
      audits.map((a) => [a.value.requestedBy, a.value.command, a.value.outcome, a.value.attempts]),
      [
        ["production-orchestrator/req-bad-1", "SET_ORDER", "INVALID", 0],
        ["production-orchestrator/req-bad-2", "SET_ORDER", "INVALID", 0],
        ["production-orchestrator/req-capper", "SET_ORDER", "INVALID", 0],
        ["production-orchestrator/req-shape", "SET_ORDER", "INVALID", 0],
        ["production-orchestrator/req-start", "UNKNOWN", "INVALID", 0],
      ],
    );
    assert.equal(await commandCount(registry, "INVALID"), 6);

    // A machine no bridge maps: nobody answers, at once.
    const err = await sendMachineCommand(
      nc,
      { ...FILLER, machine: "labeller" },
      setOrder("r", "A", "B"),
    ).then(
      () => assert.fail("a machine no bridge maps must have no responder"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof natsErrors.RequestError && err.isNoResponders(), String(err));
  });

  test("a machine that refuses is REFUSED with its status, not retried; one that ignores the write is UNCONFIRMED after every attempt", async (t) => {
    const sim = await startSimulator(t, twoMachinePlant(23, []));
    const { nc } = await startStreams(t);
    const config = configWith(bridgeConfigFor(sim), (m) => {
      const commands = m["commands"] as { setOrder: Record<string, unknown> };
      commands.setOrder["confirmTimeoutMs"] = 400;
    });
    const bridge = await startBridge(t, nc, config);
    await bridgeSeesPlant(bridge, 2);

    sim.setOrderFault("filler", "refuse");
    const refused = await sendMachineCommand(nc, FILLER, setOrder("req-refused", "WH/MO/00010", "LOT-10"));
    assert.equal(refused.outcome, "REFUSED");
    assert.equal(refused.attempts, 1, "the machine said no: not sent again");
    assert.match(refused.message ?? "", /^BadInvalidState/);
    assert.equal(sim.model.snapshot("filler").order, "WH/MO/00001");

    sim.setOrderFault("filler", "ignore");
    const ignored = await sendMachineCommand(nc, FILLER, setOrder("req-ignored", "WH/MO/00011", "LOT-11"));
    assert.equal(ignored.outcome, "UNCONFIRMED");
    assert.equal(ignored.attempts, 3);
    assert.match(
      ignored.message ?? "",
      /^read back order "WH\/MO\/00001" and lot "LOT-A" \(not "WH\/MO\/00011", "LOT-11"\) 400 ms after the write \(3 attempt\(s\)\)$/,
    );

    // Working again: the next command goes through.
    sim.setOrderFault("filler", null);
    const ok = await sendMachineCommand(nc, FILLER, setOrder("req-ok", "WH/MO/00012", null));
    assert.equal(ok.outcome, "CONFIRMED");
    assert.deepEqual(
      [sim.model.snapshot("filler").order, sim.model.snapshot("filler").lot],
      ["WH/MO/00012", null],
    );

    const audits = await until("the audits", async () => {
      const a = await storedEvents(nc, AUDIT);
      return a.length >= 3 ? a : undefined;
    });
    assert.deepEqual(
      audits.map((a) => [a.value.outcome, a.value.attempts, a.value.message]),
      [
        ["REFUSED", 1, refused.message],
        ["UNCONFIRMED", 3, ignored.message],
        ["CONFIRMED", 1, null],
      ],
    );
  });

  test("an endpoint that does not answer gets no write: UNCONFIRMED, never CONFIRMED", async (t) => {
    const sim = await startSimulator(t, twoMachinePlant(24, []));
    const { nc } = await startStreams(t);
    const bridge = await startBridge(t, nc, bridgeConfigFor(sim));
    await bridgeSeesPlant(bridge, 2);
    await sim.stop();
    await until(
      "the endpoint is OFFLINE",
      async () => bridge.endpointStatus()["plant-sim"] === "OFFLINE" || undefined,
    );
    const reply = await sendMachineCommand(nc, FILLER, setOrder("req-offline", "WH/MO/00020", "LOT-20"));
    assert.equal(reply.outcome, "UNCONFIRMED");
    assert.equal(reply.attempts, 0);
    assert.match(reply.message ?? "", /^endpoint plant-sim is OFFLINE: nothing was written$/);
    const audit = await until("the audit", async () => (await storedEvents(nc, AUDIT))[0]);
    assert.equal(audit.value.outcome, "UNCONFIRMED");
  });
});
