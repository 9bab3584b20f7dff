/**
 * What a planner reads in Odoo about an order — produced, components consumed, scrapped, backorder,
 * work-centre time — set against what the plant did (the plant simulator's ground truth). The demo
 * prints it; the fault run (tools/chaos) prints it and checks it. Odoo is read over its external
 * API, as any other client would.
 */
import type { OdooClient } from "../../services/odoo-connector/src/odoo/client.js";
import { LINE_WORKCENTERS } from "../sim/odoo/seed.js";
import type { MachineGroundTruth } from "../sim/plant/model.js";

/** What the ERP side needs of the plant: each machine's true totals and running time. */
export interface PlantTruth {
  /** Per machine id. */
  readonly machines: ReadonlyMap<string, MachineTruth>;
}

export interface MachineTruth {
  readonly line: string;
  readonly good: number;
  readonly reject: number;
  /** Minutes in EXECUTE, plant time. */
  readonly runningMinutes: number;
}

/** A stretch of plant time (ms since the simulator started) in which no bridge watched a machine. */
export interface Unwatched {
  readonly from: number;
  readonly to: number;
}

/** The stops (EXECUTE left, then entered again) that began and ended inside an unwatched stretch. */
function unwatchedStopsOf(
  m: Pick<MachineGroundTruth, "transitions">,
  unwatched: readonly Unwatched[],
): Unwatched[] {
  const stops: Unwatched[] = [];
  let stoppedAt: number | undefined;
  for (const t of m.transitions) {
    if (t.from === "EXECUTE") stoppedAt = t.at;
    else if (t.to === "EXECUTE" && stoppedAt !== undefined) {
      const stop = { from: stoppedAt, to: t.at };
      if (unwatched.some((w) => w.from <= stop.from && stop.to <= w.to)) stops.push(stop);
      stoppedAt = undefined;
    }
  }
  return stops;
}

/**
 * Minutes in EXECUTE. A stop that began and ended inside an `unwatched` stretch counts as running:
 * an OPC UA client that connects afterwards reads only the current state (EXECUTE, with the source
 * time of its return), so no observer could have told it from running.
 */
function runningMinutes(
  m: Pick<MachineGroundTruth, "transitions" | "state">,
  until: number,
  unwatched: readonly Unwatched[] = [],
): number {
  let total = 0;
  // A machine already running at t=0 has no transition into EXECUTE (nor any, if it never stopped).
  let since: number | undefined = (m.transitions[0]?.from ?? m.state) === "EXECUTE" ? 0 : undefined;
  for (const t of m.transitions) {
    if (t.to === "EXECUTE" && since === undefined) since = t.at;
    else if (t.from === "EXECUTE" && since !== undefined) {
      total += t.at - since;
      since = undefined;
    }
  }
  if (since !== undefined) total += until - since;
  for (const stop of unwatchedStopsOf(m, unwatched)) total += stop.to - stop.from;
  return total / 60_000;
}

/** "packer-2 13.1 s at 257.5 s" for each stop no observer could see (the plant time it began). */
export function unseenStops(
  groundTruth: Readonly<Record<string, MachineGroundTruth>>,
  unwatched: ReadonlyMap<string, readonly Unwatched[]>,
): string[] {
  return Object.entries(groundTruth).flatMap(([id, m]) =>
    unwatchedStopsOf(m, unwatched.get(id) ?? []).map(
      (s) => `${id} ${((s.to - s.from) / 1000).toFixed(1)} s at ${(s.from / 1000).toFixed(1)} s`,
    ),
  );
}

/**
 * The plant's truth from the simulator's ground truth (`model.groundTruth()`, or its OPC UA node);
 * `unwatched`: per machine, the stretches no bridge watched it (see {@link runningMinutes}).
 */
export function plantTruth(
  groundTruth: Readonly<Record<string, MachineGroundTruth>>,
  now: number,
  unwatched: ReadonlyMap<string, readonly Unwatched[]> = new Map(),
): PlantTruth {
  const machines = new Map<string, MachineTruth>();
  for (const [id, m] of Object.entries(groundTruth))
    machines.set(id, {
      line: m.line,
      good: m.good,
      reject: m.reject,
      runningMinutes: runningMinutes(m, now, unwatched.get(id)),
    });
  return { machines };
}

/** One thing Odoo says against what the plant did. */
export interface Check {
  readonly what: string;
  readonly odoo: string;
  readonly plant: string;
  /** false: Odoo disagrees with the plant. */
  readonly ok: boolean;
}

/** One order of a family (the order and its backorders) as Odoo has it. */
export interface OrderView {
  readonly name: string;
  readonly state: string;
  /** The done order's checks; none for an open one. */
  readonly checks: readonly Check[];
  /** "COMP-JAR 1234, …" of a done order. */
  readonly consumed?: string;
  /** What an open order still has to produce. */
  readonly remaining?: number;
}

export interface OrderAgainstPlant {
  readonly ref: string;
  /** The machine whose counts are the order's output. */
  readonly countingPoint: string;
  /** Per component code, the machine whose rejects are that component's scrap (the capper's caps). */
  readonly componentScrap?: Readonly<Record<string, string>>;
}

const round = (n: number, places = 2) => Math.round(n * 10 ** places) / 10 ** places;

function code(product: unknown): string {
  return String((product as [number, string])[1]).replace(/^\[([^\]]+)\].*$/, "$1");
}

/** The order and its backorders (`REF`, `REF-001`, …). */
export async function familyOf(
  client: OdooClient,
  ref: string,
): Promise<{ id: number; name: string; state: string }[]> {
  const rows = await client.searchRead(
    "mrp.production",
    ["|", ["name", "=", ref], ["name", "=like", `${ref}-%`]],
    { fields: ["name", "state"], order: "id" },
  );
  return rows.map((r) => ({ id: r["id"] as number, name: String(r["name"]), state: String(r["state"]) }));
}

/**
 * Each order of the family against the plant. A done order's produced quantity must be the counting
 * point's good plus rejects (rejects are produced, then scrapped), its scrap the counting point's
 * rejects (and a component's scrap the rejects of the machine that handles it), its work orders'
 * time each machine's running time.
 */
export async function orderAgainstPlant(
  client: OdooClient,
  order: OrderAgainstPlant,
  truth: PlantTruth,
): Promise<OrderView[]> {
  const point = truth.machines.get(order.countingPoint);
  const codes = new Map(
    (await client.searchRead("mrp.workcenter", [], { fields: ["code"] })).map((w) => [
      w["id"] as number,
      String(w["code"]),
    ]),
  );
  const views: OrderView[] = [];
  for (const member of await familyOf(client, order.ref)) {
    const [mo] = await client.read(
      "mrp.production",
      [member.id],
      ["qty_produced", "product_qty", "product_id"],
    );
    if (member.state !== "done") {
      views.push({
        name: member.name,
        state: member.state,
        checks: [],
        remaining: Number(mo?.["product_qty"]),
      });
      continue;
    }
    const checks: Check[] = [];
    const produced = Number(mo?.["qty_produced"]);
    const expected = (point?.good ?? 0) + (point?.reject ?? 0);
    checks.push({
      what: "produced",
      odoo: String(produced),
      plant: `${order.countingPoint}: ${point?.good} good + ${point?.reject} rejected`,
      ok: produced === expected,
    });
    const moves = await client.searchRead(
      "stock.move",
      [
        ["raw_material_production_id", "=", member.id],
        ["scrap_id", "=", false],
        ["state", "=", "done"],
      ],
      { fields: ["product_id", "quantity"] },
    );
    const scraps = await client.searchRead(
      "stock.scrap",
      [
        ["production_id", "=", member.id],
        ["state", "=", "done"],
      ],
      { fields: ["product_id", "scrap_qty"] },
    );
    const scrapOf = (c: string) =>
      scraps.filter((s) => code(s["product_id"]) === c).reduce((n, s) => n + Number(s["scrap_qty"]), 0);
    const finished = code(mo?.["product_id"]);
    checks.push({
      what: `scrapped ${finished}`,
      odoo: String(scrapOf(finished)),
      plant: `${order.countingPoint}'s rejects: ${point?.reject ?? 0}`,
      ok: scrapOf(finished) === (point?.reject ?? 0),
    });
    for (const [component, machine] of Object.entries(order.componentScrap ?? {})) {
      const rejects = truth.machines.get(machine)?.reject ?? 0;
      checks.push({
        what: `scrapped ${component}`,
        odoo: String(scrapOf(component)),
        plant: `${machine}'s rejects: ${rejects}`,
        ok: scrapOf(component) === rejects,
      });
    }
    const wos = await client.searchRead("mrp.workorder", [["production_id", "=", member.id]], {
      fields: ["workcenter_id", "duration"],
    });
    for (const w of wos) {
      const wc = codes.get((w["workcenter_id"] as [number])[0]) ?? "?";
      const machine = LINE_WORKCENTERS.find((l) => l.code === wc)?.machine ?? "";
      const ran = truth.machines.get(machine)?.runningMinutes ?? 0;
      const minutes = Number(w["duration"]);
      checks.push({
        what: `time on ${wc}`,
        odoo: `${round(minutes)} min`,
        plant: `${machine} ran ${round(ran)} min`,
        ok: Math.abs(minutes - ran) < 0.05,
      });
    }
    views.push({
      name: member.name,
      state: member.state,
      checks,
      consumed: moves.map((m) => `${code(m["product_id"])} ${round(Number(m["quantity"]), 3)}`).join(", "),
    });
  }
  return views;
}

/** The views as lines a person reads. */
export function printOrderViews(views: readonly OrderView[], print: (line: string) => void): void {
  for (const v of views) {
    if (v.state !== "done") {
      print(`  ${v.name} ${v.state}: the backorder, ${v.remaining} still to produce`);
      continue;
    }
    print(`  ${v.name} done:`);
    for (const c of v.checks) print(`    ${c.what}: ${c.odoo} (${c.plant}: ${c.ok ? "match" : "MISMATCH"})`);
    print(`    components consumed: ${v.consumed}`);
  }
}
