/**
 * "The genealogy complete" (issue 20): what the genealogy builder derives from the events the run
 * stored is in its graph, whatever was killed or paused meanwhile. Checked against the streams two
 * ways. Through its HTTP API, as a quality engineer sees it: each lot the run produced, traced back one
 * level — the machines that reported on it with each counting point's good quantity, and the component
 * lots consumed into it with their quantities — equals the stored reports and consumption events
 * (store/projection.ts: production_reported -> `production`, material_consumed -> `lot_edges`;
 * query/queries.ts: a lot's machines and edges). And, when the builder writes to PostgreSQL, in its
 * store: every event of its types in its streams is applied (`applied_events`), reports without a lot
 * (not traceable by lot) included.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../contracts/src/index.js";
import { GENEALOGY_SOURCES } from "../../services/genealogy-builder/src/manifest.js";
import type { TraceResult } from "../../services/genealogy-builder/src/query/types.js";
import {
  isGenealogyEvent,
  productKey,
  quoteSchema,
} from "../../services/genealogy-builder/src/store/projection.js";
import { formatMicros, microsOf, openDatabase, readEvents, readStream } from "../../streams/src/index.js";

export interface GenealogyTarget {
  /** The builder's HTTP API (any replica, or the address in front of them). */
  readonly url: string;
  /** GENEALOGY_API_TOKEN. */
  readonly token: string;
  /** Its PostgreSQL database, when it writes to one (the embedded one is its process's alone). */
  readonly databaseUrl?: string | undefined;
  /** GENEALOGY_SCHEMA. @default "genealogy" */
  readonly schema?: string;
}

/** What the stored events say of one produced lot. */
interface LotFacts {
  product: string | undefined;
  /** Machines that reported on it. */
  readonly machines: Set<string>;
  /** Good quantity per counting point. */
  readonly counted: Map<string, bigint>;
  /** Consumed per component lot and unit (`product/lot/uom`). */
  readonly consumed: Map<string, bigint>;
}

const add = (m: Map<string, bigint>, k: string, v: bigint) => m.set(k, (m.get(k) ?? 0n) + v);

/** The invariant rows: the lots through the API, and the store when it is a server's. */
export async function genealogyComplete(
  nc: NatsConnection,
  codec: EventCodec,
  target: GenealogyTarget,
): Promise<{ invariant: string; ok: boolean; detail: string }[]> {
  const lots = new Map<string, LotFacts>();
  const lotOf = (lot: string) => {
    const facts = lots.get(lot) ?? {
      product: undefined,
      machines: new Set<string>(),
      counted: new Map<string, bigint>(),
      consumed: new Map<string, bigint>(),
    };
    lots.set(lot, facts);
    return facts;
  };
  const seen = new Set<string>();
  let [reports, withoutLot, consumptions] = [0, 0, 0];
  const reported = readEvents(nc, {
    stream: "MFG_PRODUCTION",
    filter: "mfg.production.production_reported.>",
    codec,
    types: ["mfg.production.production_reported.v1"],
  });
  for await (const e of reported) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    reports++;
    const v = e.value;
    if (!v.lot) {
      withoutLot++;
      continue;
    }
    const facts = lotOf(v.lot);
    const machine = v.equipment.machine ?? "";
    facts.machines.add(machine);
    if (v.countingPoint) add(facts.counted, machine, microsOf(v.goodQuantity.value));
  }
  const consumed = readEvents(nc, {
    stream: "MFG_INVENTORY",
    filter: "mfg.inventory.material_consumed.>",
    codec,
    types: ["mfg.inventory.material_consumed.v1"],
  });
  for await (const e of consumed) {
    if (seen.has(e.id) || !e.value.producedLot) continue;
    seen.add(e.id);
    consumptions++;
    const v = e.value;
    const facts = lotOf(v.producedLot as string);
    facts.product = productKey(v.producedProduct);
    add(
      facts.consumed,
      `${productKey(v.component)}/${v.componentLot ?? ""}/${v.quantity.uom}`,
      microsOf(v.quantity.value),
    );
  }

  const wrong: string[] = [];
  for (const [lot, facts] of lots) {
    const query = new URLSearchParams({ direction: "backward", depth: "1" });
    if (facts.product) query.set("product", facts.product);
    const res = await fetch(`${target.url}/genealogy/lots/${encodeURIComponent(lot)}/trace?${query}`, {
      headers: { authorization: `Bearer ${target.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200) {
      wrong.push(`${lot}: trace answered ${res.status}`);
      continue;
    }
    const trace = (await res.json()) as TraceResult;
    const graphCounted = new Map<string, bigint>();
    const graphMachines = new Set<string>();
    for (const m of trace.root.machines) {
      graphMachines.add(m.machine ?? "");
      if (m.good) add(graphCounted, m.machine ?? "", microsOf(m.good.value));
    }
    const graphConsumed = new Map<string, bigint>();
    for (const edge of trace.edges)
      if (edge.to.lot === lot && edge.to.product === trace.root.product)
        add(graphConsumed, `${edge.from.product}/${edge.from.lot}/${edge.uom}`, microsOf(edge.consumed));
    for (const m of facts.machines) if (!graphMachines.has(m)) wrong.push(`${lot}: machine ${m} missing`);
    wrong.push(...differences(`${lot} counted`, facts.counted, graphCounted));
    wrong.push(...differences(`${lot} consumed`, facts.consumed, graphConsumed));
  }
  const edges = [...lots.values()].reduce((n, f) => n + f.consumed.size, 0);
  const rows = [
    {
      invariant: "genealogy complete: each lot produced, traced back through its API, = the stored events",
      ok: wrong.length === 0 && lots.size > 0,
      detail:
        wrong.length > 0
          ? wrong.slice(0, 5).join("; ")
          : `${lots.size} lots: ${reports - withoutLot} reports' machines and counts, ${edges} component edges of ${consumptions} consumptions as stored${withoutLot ? `; ${withoutLot} reports of untracked products have no lot to trace` : ""}`,
    },
  ];
  if (target.databaseUrl) rows.push(await everyEventApplied(nc, target.databaseUrl, target.schema));
  return rows;
}

/** Keys whose sums differ, as "what key: stored x, graph y". */
function differences(what: string, stored: Map<string, bigint>, graph: Map<string, bigint>): string[] {
  const out: string[] = [];
  for (const k of new Set([...stored.keys(), ...graph.keys()])) {
    const [a, b] = [stored.get(k) ?? 0n, graph.get(k) ?? 0n];
    if (a !== b) out.push(`${what} ${k}: stored ${formatMicros(a)}, graph ${formatMicros(b)}`);
  }
  return out;
}

/** Every event of the builder's types in its streams is in `applied_events`. */
async function everyEventApplied(
  nc: NatsConnection,
  databaseUrl: string,
  schema = "genealogy",
): Promise<{ invariant: string; ok: boolean; detail: string }> {
  const stored = new Set<string>();
  for (const source of GENEALOGY_SOURCES)
    await readStream(nc, { stream: source.stream, filter: source.filter, headersOnly: true }, (m) => {
      if (isGenealogyEvent(m.headers?.get("ce-type") ?? "")) stored.add(m.headers?.get("ce-id") ?? "");
    });
  const db = await openDatabase({ url: databaseUrl, dataDir: "", poolSize: 2 });
  const applied = new Set<string>();
  try {
    const { rows } = await db.query(`SELECT event_id FROM ${quoteSchema(schema)}.applied_events`);
    for (const r of rows) applied.add(String(r.event_id));
  } finally {
    await db.close();
  }
  const missing = [...stored].filter((id) => !applied.has(id));
  return {
    invariant: "genealogy complete: every event of its types in its streams applied (its PostgreSQL store)",
    ok: missing.length === 0 && stored.size > 0,
    detail: `${stored.size} events in ${GENEALOGY_SOURCES.map((s) => s.stream).join(", ")}, ${applied.size} applied, ${missing.length} missing${missing.length ? `: ${missing.slice(0, 5).join(", ")}` : ""}`,
  };
}
