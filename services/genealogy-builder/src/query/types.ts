/**
 * What the genealogy's queries answer: the shapes the HTTP API sends as JSON, the CLI prints and the
 * EPCIS export reads. Quantities are exact decimal strings with their unit, as in the events.
 */

/** A lot: a product's key (its internal reference, else `#<odoo id>`) and the lot name (`''`: untracked). */
export interface LotRef {
  readonly product: string;
  readonly lot: string;
}

export interface Quantity {
  readonly value: string;
  readonly uom: string;
}

/** Where to trace and how far. */
export interface TraceOptions {
  readonly direction: "backward" | "forward";
  /** Edges to follow at most from the lot. @default 10 (at most 50) */
  readonly depth?: number;
  /** Only edges whose events lie in [since, until]. @default no window */
  readonly since?: Date;
  readonly until?: Date;
}

export interface HoldSummary {
  readonly holdId: string;
  readonly reason: string | null;
  readonly placedAt: string | null;
  readonly placedBy: string | null;
  /** ACTIVE until released; then the release's status (RELEASED, REJECTED, …). */
  readonly status: string;
  readonly releasedAt: string | null;
}

export interface StockSummary {
  readonly location: string;
  readonly quantity: Quantity;
}

export interface MachineSummary {
  readonly site: string | null;
  readonly line: string | null;
  readonly machine: string | null;
  /** The orders it counted this lot for. */
  readonly orders: readonly string[];
  /** Good quantity it counted for this lot (counting points only). */
  readonly good: Quantity | null;
  readonly firstAt: string;
  readonly lastAt: string;
}

export interface OrderSummary {
  readonly orderRef: string;
  readonly product: string | null;
  readonly site: string | null;
  readonly line: string | null;
  readonly quantity: Quantity | null;
  readonly releasedAt: string | null;
  readonly completedAt: string | null;
  readonly produced: Quantity | null;
}

/** A lot in a trace, with everything known of it. */
export interface TraceLot extends LotRef {
  /** Edges from the traced lot (0 for the lot itself). */
  readonly depth: number;
  readonly productName: string | null;
  /** The product's barcode (a GTIN where the master data has one). */
  readonly barcode: string | null;
  readonly supplierLot: string | null;
  readonly registeredAt: string | null;
  readonly expiresAt: string | null;
  /** How much was made (posted, else counted) or received of it; null when no event says. */
  readonly quantity: Quantity | null;
  /** The orders that made it. */
  readonly orders: readonly string[];
  readonly machines: readonly MachineSummary[];
  readonly holds: readonly HoldSummary[];
  /** Positive stock per internal location. */
  readonly stock: readonly StockSummary[];
  /** ON_HOLD (an active hold), IN_STOCK, SHIPPED, CONSUMED, or UNKNOWN (no movement known). */
  readonly status: "ON_HOLD" | "IN_STOCK" | "SHIPPED" | "CONSUMED" | "UNKNOWN";
}

/** A component lot → produced lot edge (forward and backward traces give the same edges). */
export interface TraceEdge {
  readonly from: LotRef;
  readonly to: LotRef;
  readonly uom: string;
  readonly consumed: string;
  /** Given back by unbuilds. */
  readonly returned: string;
  /** consumed − returned: what stays in the produced lot. */
  readonly net: string;
  readonly orders: readonly string[];
  readonly firstAt: string;
  readonly lastAt: string;
  /** The events the edge came from (ids), at most 20 per edge. */
  readonly events: readonly string[];
}

export interface ShipmentLineSummary extends LotRef {
  readonly quantity: Quantity;
}

export interface ShipmentSummary {
  readonly pickingRef: string;
  readonly site: string | null;
  /** SHIPPED (a delivery was posted), CANCELLED, BLOCKED, or REQUESTED. */
  readonly status: "SHIPPED" | "CANCELLED" | "BLOCKED" | "REQUESTED";
  readonly customerRef: string | null;
  readonly customerName: string | null;
  readonly salesOrder: string | null;
  readonly requestedAt: string | null;
  readonly shippedAt: string | null;
  /** The traced lots it carries: shipped quantities once shipped, else requested. */
  readonly lines: readonly ShipmentLineSummary[];
  /**
   * Forward traces only: how much of the traced lot it carries (mass balance through every produced
   * lot, in the traced lot's unit); null when a produced quantity along the way is unknown.
   */
  readonly tracedQuantity: Quantity | null;
}

export interface CustomerSummary {
  readonly customerRef: string;
  readonly name: string | null;
  readonly shipments: readonly string[];
  /** Forward traces: the traced lot's quantity that reached the customer (null when unknown). */
  readonly tracedQuantity: Quantity | null;
}

export interface TraceResult {
  readonly root: TraceLot;
  readonly direction: "backward" | "forward";
  readonly depth: number;
  readonly since: string | null;
  readonly until: string | null;
  /** True when the depth limit cut edges off: the trace goes further. */
  readonly truncated: boolean;
  /** Every lot reached, the root first, then by depth. */
  readonly lots: readonly TraceLot[];
  readonly edges: readonly TraceEdge[];
  readonly orders: readonly OrderSummary[];
  /** Backward: the supplier lots of the lots reached. */
  readonly supplierLots: readonly { readonly lot: LotRef; readonly supplierLot: string }[];
  /** Forward: the shipments that carry any lot reached, and their customers. */
  readonly shipments: readonly ShipmentSummary[];
  readonly customers: readonly CustomerSummary[];
  /** Forward: how much of the traced lot is in each lot reached (mass balance), by "product/lot". */
  readonly massBalance: Readonly<Record<string, Quantity | null>>;
  /** Cycles met (rework): edges not followed again. */
  readonly cyclesSkipped: number;
}

/** Which lots to block and whom to call when a lot is bad. */
export interface RecallReport {
  readonly lot: TraceLot;
  readonly generatedAt: string;
  /** Lots made from it (and it), at any depth up to the limit. */
  readonly lotsAffected: number;
  readonly truncated: boolean;
  /** Shipments that left or are to leave with an affected lot, with the traced quantity in each. */
  readonly shipments: readonly ShipmentSummary[];
  readonly customers: readonly CustomerSummary[];
  /** Affected lots still in stock and not on hold: block them. */
  readonly toBlock: readonly (LotRef & {
    readonly stock: readonly StockSummary[];
    readonly tracedQuantity: Quantity | null;
  })[];
  /** Affected lots already on hold. */
  readonly onHold: readonly (LotRef & { readonly holds: readonly HoldSummary[] })[];
}

/** Where a component (product, optionally one lot) was used. */
export interface WhereUsedRow {
  readonly component: LotRef;
  readonly produced: LotRef;
  readonly orders: readonly string[];
  readonly net: Quantity;
  readonly lastAt: string;
}
