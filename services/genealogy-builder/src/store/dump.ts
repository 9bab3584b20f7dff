/**
 * The whole graph as plain sorted rows, table by table: what "the same graph" means when a rebuild
 * is compared with the live projection, or events applied in another order with the first. Only the
 * bookkeeping times (when a row was written) are left out.
 */
import type { SqlQuery } from "../../../../streams/src/index.js";
import { quoteSchema } from "./projection.js";

const TABLES: Readonly<Record<string, string>> = {
  applied_events: "event_id, stream, seq, type",
  lots: "*",
  lot_edges: "*",
  edge_events: "*",
  orders: "*",
  production: "*",
  movements: "*",
  shipments: "*",
  shipment_lines: "*",
  holds: "*",
  products: "*",
  locations: "*",
  partners: "*",
};

export type GraphDump = Record<string, string[]>;

/** Every row of every table of the graph, each as JSON, sorted. */
export async function dumpGraph(db: SqlQuery, schema: string): Promise<GraphDump> {
  const s = quoteSchema(schema);
  const out: GraphDump = {};
  for (const [table, columns] of Object.entries(TABLES)) {
    const { rows } = await db.query(`SELECT ${columns} FROM ${s}.${table}`);
    out[table] = rows
      .map((r) => JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v)))
      .sort();
  }
  return out;
}
