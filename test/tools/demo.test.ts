import assert from "node:assert/strict";
import { test } from "node:test";
import { Catalog } from "../../contracts/src/catalog.js";
import { runDemo } from "../../tools/demo/demo.js";
import { startTestServer } from "../harness/nats.js";

test("the demo registers the contracts, publishes a production run once, reads it back, a service tracks it, converting a report in two units and dead-lettering one in kg, the bridged plant matches its ground truth, Odoo's orders come in as events while the counts go back without drift, and a drifting filler holds its lot and blocks its delivery in Odoo until the hold is released", async (t) => {
  const server = await startTestServer({}, t);
  const lines: string[] = [];
  // --hold: after the scenario everything keeps running, and the demo says where each part is.
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => {
    release = r;
  });
  let odooDuringHold: number | undefined;
  const print = (l: string) => {
    lines.push(l);
    if (!l.startsWith("plant simulator (OPC UA):")) return;
    const odooUrl = lines.map((x) => /^Odoo \(simulated [^)]+\): (\S+)/.exec(x)?.[1]).find(Boolean);
    void fetch(`${odooUrl}/jsonrpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        method: "call",
        params: { service: "common", method: "version", args: [] },
      }),
    })
      .then((r) => {
        odooDuringHold = r.status;
      })
      .finally(release);
  };
  await runDemo({ natsUrl: server.clientUrl, print, plant: { virtualMs: 60_000, speed: 20 }, hold: held });
  const text = lines.join("\n");
  // Every event type of the catalog is a subject.
  assert.match(text, new RegExp(`schema registry holds ${Catalog.load().list().length} subjects`));
  assert.match(text, /duplicate=true/);
  assert.equal(lines.filter((l) => l.includes("(schema v1)")).length, 4);
  assert.match(text, /filler1 EXECUTE -> HELD \(JAM: Jar jam at capper\)/);
  // 480 + 20 jars; 6 rejected in Units and half a Dozen in Dozens: 12 Units.
  assert.match(text, /WH\/MO\/00042: planned 1200 Units, good 500, reject 12 \(3 events applied once each\)/);
  assert.match(
    text,
    /dead-lettered to MFG_DLQ: UOM_CATEGORY_MISMATCH — cannot convert kg \(Weight\) to Units \(Unit\)/,
  );
  // The shop floor: every simulated machine seen by the bridge, and its totals equal the simulator's.
  assert.match(text, /plant simulator: OPC UA server opc\.tcp:\/\/127\.0\.0\.1:\d+, 6 machines/);
  assert.equal(lines.filter((l) => / UNDEFINED -> EXECUTE$/.test(l)).length, 6);
  assert.match(text, /MFG_PRODUCTION #\d+ {2}filler-1 \+\d+ good/);
  assert.match(text, /telemetry: \d+ samples in \d+ TelemetrySampled batches/);
  assert.equal(lines.filter((l) => /good (\d+)\/\1 {2}reject (\d+)\/\2 .*match$/.test(l)).length, 6, text);
  // The ERP: the master data names the demo's products; orders released in Odoo are run by the
  // production orchestrator: one is short of wrappers and waits until stock arrives, both are written
  // to their lines' machines through the bridge, each machine confirming.
  assert.match(text, /MFG_MASTERDATA {2}FIN-HJ250 "Honey Jar 250 g": in Units, tracked by lot, BoM COMP-JAR/);
  assert.match(text, /MaterialShortageDetected WH\/MO\/\d+: COMP-WRP 4000 Units missing/);
  assert.match(text, /WH\/MO\/\d+ MATERIAL_CHECK -> DISPATCHING: components reserved in Odoo/);
  assert.equal(
    lines.filter((l) => /OrderDispatched WH\/MO\/\d+ lot \S+ to line-\d: (\S+ CONFIRMED(, )?){3}$/.test(l))
      .length >= 2,
    true,
    text,
  );
  assert.match(text, /posted in Odoo: \d+ good on WH\/MO\/\d+ lot LOT-WH-MO-\d+ -> mrp\.production/);
  // What a planner sees in Odoo, against the plant's ground truth: each order closed once its run
  // ended, with one backorder for the rest.
  assert.equal(lines.filter((l) => /^ {2}WH\/MO\/\d+-001 done:$/.test(l)).length, 2, text);
  const produced = lines.filter((l) =>
    /^ {4}produced: \d+ \((labeler-1|packer-2): \d+ good \+ \d+ rejected: match\)$/.test(l),
  );
  assert.equal(produced.length, 2, text);
  // The counting points' rejects scrapped as finished product, the capper's as caps.
  assert.equal(
    lines.filter((l) => /^ {4}scrapped (FIN-HJ250|FIN-GB40|COMP-CAP): \d+ .*: match\)$/.test(l)).length,
    3,
    text,
  );
  // Each machine's running time on its own work centre.
  assert.equal(lines.filter((l) => /^ {4}time on L\d-\w+: [\d.]+ min .*: match\)$/.test(l)).length, 6, text);
  assert.doesNotMatch(text, /: MISMATCH/);
  assert.equal(lines.filter((l) => /^ {4}components consumed: COMP-/.test(l)).length, 2, text);
  assert.equal(
    lines.filter((l) => /^ {2}WH\/MO\/\d+-002 confirmed: the backorder, \d+ still to produce$/.test(l))
      .length,
    2,
    text,
  );
  const reconciled = lines.filter((l) =>
    /^ {2}WH\/MO\/\d+: counting point good \d+, rejected \d+; \d+ reports in Odoo$/.test(l),
  );
  assert.equal(reconciled.length, 2, text);
  assert.match(text, /^ {2}no drift$/m);
  // Where every order is, as ops would ask: the demo's two closed, their backorders dispatched.
  assert.equal(lines.filter((l) => /^ {2}WH\/MO\/\d+ +FIN-\S+ +line-\d +CLOSED/.test(l)).length, 2, text);
  assert.match(text, /dead-lettered by the connector: CONNECTOR_ORDER_NOT_FOUND/);
  // Quality: the filler's temperature drifts; the SPC violation holds the lot line-1 was making, and a
  // delivery of it is blocked in Odoo (a quality check to do, validation refused) until the hold is
  // released through the quality API; then the check passes and the jars leave.
  assert.match(
    text,
    /^quality service: running \(http:\S+\/quality\), charting temperature of filler-1 on line-1/m,
  );
  const step = (re: RegExp) => {
    const i = lines.findIndex((l) => re.test(l));
    assert.notEqual(i, -1, `no line matches ${re}\n${text}`);
    return i;
  };
  const story = [
    step(/MFG_QUALITY #\d+ {2}SpcViolationDetected temperature on line-1\/filler-1: /),
    step(
      /MFG_QUALITY #\d+ {2}QualityHoldPlaced H-\w+ on FIN-HJ250 lot LOT-WH-MO-\d+ by quality-service: SPC: /,
    ),
    step(
      /^ {2}Odoo: WH\/OUT\/\d+ has quality check QC\d+ to do: Lot LOT-WH-MO-\d+ is on quality hold: SPC: /,
    ),
    step(/^ {2}Odoo: validating WH\/OUT\/\d+ is refused: the quality check wizard opens instead$/),
    step(
      /^quality API, as `threadline quality release` does: POST \/quality\/holds\/H-\w+\/decision \{"disposition":"release","comment":"/,
    ),
    step(/^ {2}hold H-\w+ on lot LOT-WH-MO-\d+: RELEASED by quality-engineer$/),
    step(
      /^ {2}Odoo: quality check QC\d+ passed \(the connector, on ShipmentCleared\): WH\/OUT\/\d+ may ship$/,
    ),
    step(/^ {2}Odoo: WH\/OUT\/\d+ validated: the jars left$/),
  ];
  assert.deepEqual(
    story,
    [...story].sort((a, b) => a - b),
    `the quality story in its order:\n${story.map((i) => lines[i]).join("\n")}`,
  );
  // What the drift held (as `threadline quality holds` lists it), the request and the gate's decision
  // (printed as they land): all before Odoo refuses the delivery.
  const refused = step(/^ {2}Odoo: validating WH\/OUT\/\d+ is refused/);
  const listed = step(/^threadline quality holds: [1-9]\d* active$/);
  assert.match(lines[listed + 1] ?? "", /^ {2}H-\w+ {2}FIN-HJ250 LOT-WH-MO-\d+ {2}by quality-service: SPC: /);
  for (const i of [
    listed,
    step(/MFG_SHIPPING #\d+ {2}ShipmentRequested WH\/OUT\/\d+ to .*: \d+ FIN-HJ250 lot LOT-WH-MO-\d+$/),
    step(/MFG_SHIPPING #\d+ {2}ShipmentBlocked WH\/OUT\/\d+: lot LOT-WH-MO-\d+ on hold H-\w+/),
  ])
    assert.ok(i < refused, text);
  assert.match(
    text,
    /QualityHoldReleased H-\w+ on FIN-HJ250 lot LOT-WH-MO-\d+ \(RELEASED by quality-engineer\)/,
  );
  assert.match(text, /ShipmentCleared WH\/OUT\/\d+ \(lots LOT-WH-MO-\d+.*, blocked before\)/);
  assert.match(text, /demo done/);
  assert.match(text, /everything keeps running until Ctrl-C/);
  assert.match(text, new RegExp(`^NATS: ${server.clientUrl}`, "m"));
  assert.match(text, /^ {2}integration user threadline \/ API key \S+ \(Manufacturing \/ User\)$/m);
  assert.match(
    text,
    /^quality service: http:\S+\/quality\/holds\?status=all, \/quality\/shipments \(Authorization: Bearer [0-9a-f]{48}, /m,
  );
  assert.match(text, /^plant simulator \(OPC UA\): opc\.tcp:\/\/127\.0\.0\.1:\d+/m);
  assert.equal(odooDuringHold, 200, "Odoo still answers while the demo holds");
});
