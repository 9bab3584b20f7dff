/**
 * A lot's genealogy as the console shows it, from the genealogy builder's API (GET
 * /genealogy/lots/:lot/trace and /recall, with the console's token): the trace one way — backward to
 * what the lot was made of, forward to what was made of it and where it went — as nodes and edges a
 * page draws and expands one level at a time (each node at the edge of what is shown says whether it
 * goes further), and the recall report of a bad lot.
 */
import { z } from "zod";
import { ConsoleErrorCode } from "../errors.js";
import { type UpstreamClient, UpstreamError } from "./upstream.js";

// What the console reads of the genealogy's answers (services/genealogy-builder/src/query/types.ts);
// other fields are passed through as they are.

const Quantity = z.looseObject({ value: z.string(), uom: z.string() });
const LotRef = z.looseObject({ product: z.string(), lot: z.string() });

const TraceLot = z.looseObject({
  product: z.string(),
  lot: z.string(),
  depth: z.number().int(),
  productName: z.string().nullable(),
  supplierLot: z.string().nullable().optional(),
  quantity: Quantity.nullable(),
  orders: z.array(z.string()),
  holds: z.array(z.looseObject({ holdId: z.string(), status: z.string(), reason: z.string().nullable() })),
  status: z.string(),
});

const TraceEdge = z.looseObject({
  from: LotRef,
  to: LotRef,
  uom: z.string(),
  net: z.string(),
  orders: z.array(z.string()),
});

const Shipment = z.looseObject({
  pickingRef: z.string(),
  status: z.string(),
  customerRef: z.string().nullable(),
  customerName: z.string().nullable(),
  lines: z.array(z.looseObject({ product: z.string(), lot: z.string(), quantity: Quantity })),
});

const TraceAnswer = z.looseObject({
  root: TraceLot,
  direction: z.enum(["backward", "forward"]),
  depth: z.number().int(),
  truncated: z.boolean(),
  lots: z.array(TraceLot),
  edges: z.array(TraceEdge),
  supplierLots: z.array(z.looseObject({ lot: LotRef, supplierLot: z.string() })).default([]),
  shipments: z.array(Shipment).default([]),
  customers: z
    .array(
      z.looseObject({ customerRef: z.string(), name: z.string().nullable(), shipments: z.array(z.string()) }),
    )
    .default([]),
});

const RecallAnswer = z.looseObject({
  lot: TraceLot,
  generatedAt: z.string(),
  lotsAffected: z.number(),
  truncated: z.boolean(),
  shipments: z.array(z.looseObject({ pickingRef: z.string() })),
  customers: z.array(z.looseObject({ customerRef: z.string() })),
  toBlock: z.array(LotRef),
  onHold: z.array(LotRef),
});

export type Direction = "backward" | "forward";

/** The page's id of a lot: its product and name, each URL-encoded (lot names hold `/`). */
export const nodeId = (l: { product: string; lot: string }) =>
  `${encodeURIComponent(l.product)}/${encodeURIComponent(l.lot)}`;

/** The deepest trace a page asks for at once (it expands from there). */
export const MAX_TRACE_DEPTH = 20;

export class GenealogyView {
  constructor(private readonly client: UpstreamClient) {}

  /**
   * The lot's trace `depth` levels deep (1 by default): its lots as nodes — each at the edge saying
   * whether the trace goes further from it (`more`) — and the edges between them, parent (nearer the lot)
   * to child. CONSOLE_NOT_FOUND for a lot the genealogy does not know.
   */
  async trace(lot: string, o: { direction: Direction; depth?: number; product?: string }) {
    const depth = o.depth ?? 1;
    // One level more than shown: whether a node at the edge goes further.
    const t = await this.#get(
      `/genealogy/lots/${encodeURIComponent(lot)}/trace${query({
        direction: o.direction,
        depth: String(depth + 1),
        product: o.product,
      })}`,
      TraceAnswer,
    );
    const shown = new Map(t.lots.filter((l) => l.depth <= depth).map((l) => [nodeId(l), l]));
    const parentOf = (e: z.infer<typeof TraceEdge>) => (o.direction === "backward" ? e.to : e.from);
    const childOf = (e: z.infer<typeof TraceEdge>) => (o.direction === "backward" ? e.from : e.to);
    const edges = t.edges
      .filter((e) => shown.has(nodeId(e.from)) && shown.has(nodeId(e.to)))
      .map((e) => ({
        from: nodeId(e.from),
        to: nodeId(e.to),
        parent: nodeId(parentOf(e)),
        child: nodeId(childOf(e)),
        quantity: `${e.net} ${e.uom}`,
        orders: e.orders,
      }));
    const goesOn = new Set(
      t.edges
        .filter((e) => shown.has(nodeId(parentOf(e))) && !shown.has(nodeId(childOf(e))))
        .map((e) => nodeId(parentOf(e))),
    );
    const nodes = [...shown.entries()].map(([id, l]) => ({
      id,
      product: l.product,
      lot: l.lot,
      depth: l.depth,
      productName: l.productName,
      supplierLot: l.supplierLot ?? null,
      quantity: l.quantity ? `${l.quantity.value} ${l.quantity.uom}` : null,
      status: l.status,
      orders: l.orders,
      holds: l.holds.map((h) => ({ holdId: h.holdId, status: h.status, reason: h.reason })),
      more: goesOn.has(id),
    }));
    const lotsShown = new Set(nodes.map((n) => n.id));
    const shipments = t.shipments.filter((s) => s.lines.some((line) => lotsShown.has(nodeId(line))));
    return {
      root: nodeId(t.root),
      lot: t.root.lot,
      product: t.root.product,
      direction: t.direction,
      depth,
      nodes,
      edges,
      shipments: shipments.map((s) => ({
        pickingRef: s.pickingRef,
        status: s.status,
        customerRef: s.customerRef,
        customerName: s.customerName,
        lines: s.lines.map((line) => ({
          node: nodeId(line),
          quantity: `${line.quantity.value} ${line.quantity.uom}`,
        })),
      })),
      supplierLots: t.supplierLots
        .filter((s) => lotsShown.has(nodeId(s.lot)))
        .map((s) => ({ node: nodeId(s.lot), supplierLot: s.supplierLot })),
    };
  }

  /** The recall report of a lot: whom to call, what to block, what is on hold already. */
  async recall(lot: string, o: { product?: string } = {}) {
    return this.#get(
      `/genealogy/lots/${encodeURIComponent(lot)}/recall${query({ product: o.product })}`,
      RecallAnswer,
    );
  }

  async #get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    try {
      return await this.client.get(path, schema);
    } catch (err) {
      // A lot name several products share: the user says which (the page's product field).
      if (err instanceof UpstreamError && err.upstreamCode === "GENEALOGY_LOT_AMBIGUOUS")
        throw new UpstreamError(
          ConsoleErrorCode.RequestInvalid,
          `${err.message.replace(/^.*?: /, "")} (query.product)`,
          err.status,
          err.upstreamCode,
          { cause: err },
        );
      throw err;
    }
  }
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
