/**
 * A lot's genealogy as an EPCIS 2.0 document (JSON-LD, GS1's EPCIS 2.0 JSON schema): what
 * `threadline genealogy export --epcis <lot>` writes, from the lot's backward and forward traces.
 *
 * The events, sorted by time (then by id):
 * - A TransformationEvent per production step: per produced lot and production order (the edges that
 *   share a produced lot and the same orders; the graph sums an edge over the orders that consumed the
 *   same component lot into the same lot, so such an edge makes one step naming all its orders). Inputs: the component lots with what stays in the lot
 *   (consumed − returned by unbuilds; a component given back whole is no input). Output: the produced
 *   lot, with its quantity when it is its only step in the document (a lot made by several orders:
 *   each step names the lot without a quantity). `bizStep` is CBV 2.0's `commissioning` for a lot's
 *   first step, `creating_class_instance` for later ones ("may be repeated for the same class-level
 *   identifier"); disposition `active`. readPoint: the machine that counted the lot for the order
 *   (a counting point first), else the order's line; bizLocation: the site. bizTransactionList: the
 *   orders as `prodorder`. Its time is the step's last consumption.
 * - An ObjectEvent per shipment that left (SHIPPED): OBSERVE, `shipping`, `in_transit`, the lots it
 *   carries with the shipped quantities, the customer as the `owning_party` destination, the picking
 *   as `desadv` and the sales order as `po`. Shipments requested, blocked or cancelled are no event.
 * - An ObjectEvent per quality hold placed (OBSERVE, `holding`, `non_sellable_other`: CBV 2.0 has no
 *   "quarantined"; `holding` segregates an object for further review) and per hold released
 *   (`inspecting`, then `conformant` for RELEASED, `non_conformant` for REJECTED), naming the lot
 *   without a quantity: a hold is on the whole lot.
 *
 * Identifiers (class level, in quantity lists: a lot is a class of objects, not one object):
 * - A product whose barcode is a GTIN (8, 12, 13 or 14 digits with a valid check digit): a GS1 Digital
 *   Link URI, `https://id.gs1.org/01/<GTIN-14>/10/<lot>` (the lot percent-encoded), or
 *   `https://id.gs1.org/01/<GTIN-14>` for untracked stock. A lot name that is no valid batch/lot
 *   (AI 10: at most 20 characters of GS1's character set 82) falls back to the private scheme.
 * - Otherwise, Threadline's private scheme, URNs whose parts are percent-encoded (so `:` and `#`
 *   cannot mix them up): `urn:threadline:lot:<product>:<lot>`, `urn:threadline:product:<product>`
 *   (untracked stock); the product is our product key (internal reference, else `#<odoo id>`).
 *   Likewise `urn:threadline:prodorder:<ref>`, `:picking:<ref>`, `:salesorder:<ref>`,
 *   `:party:<customer ref>`, `:site:<site>`, `:line:<site>:<line>`, `:machine:<site>:<line>:<machine>`.
 *   They are URIs (what the schema checks) in a namespace nobody registered: opaque names to a
 *   receiver, meaningful only with our master data.
 *
 * Quantities: EPCIS gives `uom` only for physical measures, as UN/CEFACT Recommendation 20 codes; a
 * quantity without `uom` is a count of the class's objects. So Units are a count, Dozens a count of
 * twelve times as many, kg → KGM, g → GRM, L → LTR, m → MTR and the other units in `UNITS`; a unit
 * not in that table gives no quantity at all (an element with the class only), never a wrong one.
 *
 * Times: our times are UTC; events say `eventTimeZoneOffset: "+00:00"`. Event ids are
 * `urn:uuid:` name-based UUIDs (version 5) of what the event stands for (the produced lot and orders,
 * the picking, the hold), so the same traces give the same document byte for byte (with the same
 * `creationDate`). They are not EPCIS 2.0's event hash ids (`ni:///sha-256;…`), which need the
 * canonical form of every field.
 */
import { v5 as uuidv5 } from "uuid";
import { GenealogyError } from "./errors.js";
import type {
  HoldSummary,
  LotRef,
  OrderSummary,
  Quantity,
  ShipmentSummary,
  TraceEdge,
  TraceLot,
  TraceResult,
} from "./query/types.js";

/** GS1's JSON-LD context of EPCIS 2.0. */
export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/** The resolver GS1 Digital Link URIs name. */
export const DIGITAL_LINK_BASE = "https://id.gs1.org";
/** Our private identifiers' prefix. */
export const PRIVATE_URN = "urn:threadline";
/** Namespace of the event ids' name-based UUIDs (fixed: changing it changes every event id). */
const EVENT_ID_NAMESPACE = "b83230b5-dd73-41f0-9741-cb4fb2c41f7d";
/** Our times are UTC. */
const TIME_ZONE_OFFSET = "+00:00";

export interface EpcisOptions {
  /** The document's `creationDate`. @default now */
  readonly creationDate?: Date;
  /** The document's `sender` (a GLN, a URI or a name the receiver knows). @default no sender */
  readonly senderId?: string;
}

export interface QuantityElement {
  readonly epcClass: string;
  readonly quantity?: number;
  readonly uom?: string;
}

export interface BizTransaction {
  readonly type: "prodorder" | "desadv" | "po";
  readonly bizTransaction: string;
}

interface EventBase {
  readonly eventID: string;
  readonly eventTime: string;
  readonly eventTimeZoneOffset: string;
}

export interface TransformationEvent extends EventBase {
  readonly type: "TransformationEvent";
  readonly inputQuantityList: readonly QuantityElement[];
  readonly outputQuantityList: readonly QuantityElement[];
  readonly bizStep: "commissioning" | "creating_class_instance";
  readonly disposition: "active";
  readonly readPoint?: { readonly id: string };
  readonly bizLocation?: { readonly id: string };
  readonly bizTransactionList?: readonly BizTransaction[];
}

export interface ObjectEvent extends EventBase {
  readonly type: "ObjectEvent";
  readonly action: "OBSERVE";
  readonly quantityList: readonly QuantityElement[];
  readonly bizStep: "shipping" | "holding" | "inspecting";
  readonly disposition?: "in_transit" | "non_sellable_other" | "conformant" | "non_conformant";
  readonly readPoint?: { readonly id: string };
  readonly bizTransactionList?: readonly BizTransaction[];
  readonly destinationList?: readonly { readonly type: "owning_party"; readonly destination: string }[];
}

export type EpcisEvent = TransformationEvent | ObjectEvent;

export interface EpcisDocument {
  readonly "@context": readonly string[];
  readonly type: "EPCISDocument";
  readonly schemaVersion: "2.0";
  readonly creationDate: string;
  readonly sender?: string;
  readonly epcisBody: { readonly eventList: readonly EpcisEvent[] };
}

/**
 * An Odoo unit (its name) as EPCIS says it: a count (no `uom`; a Dozen counts twelve) or a physical
 * measure with its UN/CEFACT Recommendation 20 code. Names as Odoo 16–19 ship them, and 15's `Unit(s)`.
 */
export const UNITS: Readonly<Record<string, { readonly count: bigint } | { readonly uom: string }>> = {
  Units: { count: 1n },
  "Unit(s)": { count: 1n },
  Dozens: { count: 12n },
  "Dozen(s)": { count: 12n },
  kg: { uom: "KGM" },
  g: { uom: "GRM" },
  t: { uom: "TNE" },
  lb: { uom: "LBR" },
  oz: { uom: "ONZ" },
  L: { uom: "LTR" },
  ml: { uom: "MLT" },
  mL: { uom: "MLT" },
  m: { uom: "MTR" },
  cm: { uom: "CMT" },
  mm: { uom: "MMT" },
  km: { uom: "KMT" },
  ft: { uom: "FOT" },
  in: { uom: "INH" },
  mi: { uom: "SMI" },
  "m²": { uom: "MTK" },
  "m³": { uom: "MTQ" },
  "gal (US)": { uom: "GLL" },
  Hours: { uom: "HUR" },
  Days: { uom: "DAY" },
};

/** The document for one lot, from its backward and forward traces (the same lot's). */
export function epcisDocument(
  backward: TraceResult,
  forward: TraceResult,
  options: EpcisOptions = {},
): EpcisDocument {
  const { creationDate, senderId } = parseEpcisOptions(options);
  const graph = mergeTraces(backward, forward);
  const eventList = [...transformationEvents(graph), ...shippingEvents(graph), ...holdEvents(graph)].sort(
    (a, b) => compare(a.eventTime, b.eventTime) || compare(a.eventID, b.eventID),
  );
  return {
    "@context": [EPCIS_CONTEXT],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: creationDate.toISOString(),
    ...(senderId !== null ? { sender: senderId } : {}),
    epcisBody: { eventList },
  };
}

function parseEpcisOptions(options: EpcisOptions): { creationDate: Date; senderId: string | null } {
  const creationDate = options.creationDate ?? new Date();
  if (Number.isNaN(creationDate.getTime()))
    throw new GenealogyError("GENEALOGY_QUERY_INVALID", "EPCIS export: creationDate is not a valid date");
  const senderId = options.senderId ?? null;
  if (senderId !== null && senderId.trim() === "")
    throw new GenealogyError("GENEALOGY_QUERY_INVALID", "EPCIS export: senderId is empty; leave it out");
  return { creationDate, senderId };
}

/** The GTIN-14 of a barcode that is a GTIN (8, 12, 13 or 14 digits, valid check digit), else null. */
export function gtin14(barcode: string | null): string | null {
  if (barcode === null || !/^(\d{8}|\d{12,14})$/.test(barcode)) return null;
  const digits = barcode.padStart(14, "0");
  let sum = 0;
  for (let i = 0; i < 13; i++) sum += Number(digits[i]) * (i % 2 === 0 ? 3 : 1);
  return (10 - (sum % 10)) % 10 === Number(digits[13]) ? digits : null;
}

/** GS1's character set 82, at most 20 characters: what a batch/lot number (AI 10) may be. */
const AI10 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$/;

/** A lot's class-level identifier: a GS1 Digital Link URI where the product has a GTIN, else ours. */
export function lotClassUri(lot: LotRef, barcode: string | null): string {
  const gtin = gtin14(barcode);
  if (gtin !== null && lot.lot === "") return `${DIGITAL_LINK_BASE}/01/${gtin}`;
  if (gtin !== null && AI10.test(lot.lot)) return `${DIGITAL_LINK_BASE}/01/${gtin}/10/${pct(lot.lot)}`;
  if (lot.lot === "") return privateUri("product", lot.product);
  return privateUri("lot", lot.product, lot.lot);
}

/** Percent-encodes all but letters, digits, `-`, `.`, `_` and `~` (UTF-8). */
function pct(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function privateUri(kind: string, ...parts: string[]): string {
  return [PRIVATE_URN, kind, ...parts.map(pct)].join(":");
}

/** A name-based (version 5) UUID URN: the same name, the same id. */
function eventId(...name: string[]): string {
  return `urn:uuid:${uuidv5(name.join("\u0000"), EVENT_ID_NAMESPACE)}`;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const lotKey = (lot: LotRef): string => `${lot.product}\u0000${lot.lot}`;
/** An ISO time in UTC with milliseconds, as every event says it. */
function utc(at: string): string {
  const time = new Date(at);
  if (Number.isNaN(time.getTime()))
    throw new GenealogyError("GENEALOGY_QUERY_INVALID", `EPCIS export: not a time: ${JSON.stringify(at)}`);
  return time.toISOString();
}

/** What both traces reached, each thing once. */
interface Graph {
  readonly lots: ReadonlyMap<string, TraceLot>;
  readonly edges: readonly TraceEdge[];
  readonly orders: ReadonlyMap<string, OrderSummary>;
  readonly shipments: readonly ShipmentSummary[];
}

function mergeTraces(backward: TraceResult, forward: TraceResult): Graph {
  if (backward.direction !== "backward" || forward.direction !== "forward")
    throw new GenealogyError(
      "GENEALOGY_QUERY_INVALID",
      `EPCIS export: give a backward then a forward trace (got ${backward.direction}, ${forward.direction})`,
    );
  if (lotKey(backward.root) !== lotKey(forward.root))
    throw new GenealogyError(
      "GENEALOGY_QUERY_INVALID",
      `EPCIS export: the traces are of two lots (${backward.root.product}/${backward.root.lot}, ` +
        `${forward.root.product}/${forward.root.lot}); trace one lot both ways`,
    );
  const lots = new Map<string, TraceLot>();
  const edges = new Map<string, TraceEdge>();
  const orders = new Map<string, OrderSummary>();
  const shipments = new Map<string, ShipmentSummary>();
  for (const trace of [backward, forward]) {
    for (const lot of trace.lots) if (!lots.has(lotKey(lot))) lots.set(lotKey(lot), lot);
    for (const e of trace.edges) {
      const key = `${lotKey(e.from)}\u0000${lotKey(e.to)}\u0000${e.uom}`;
      if (!edges.has(key)) edges.set(key, e);
    }
    for (const o of trace.orders) if (!orders.has(o.orderRef)) orders.set(o.orderRef, o);
    for (const s of trace.shipments) if (!shipments.has(s.pickingRef)) shipments.set(s.pickingRef, s);
  }
  return {
    lots,
    edges: [...edges.entries()].sort(([a], [b]) => compare(a, b)).map(([, e]) => e),
    orders,
    shipments: [...shipments.values()].sort((a, b) => compare(a.pickingRef, b.pickingRef)),
  };
}

/** A lot's class identifier, with its product's barcode from the lot the traces know. */
function classOf(graph: Graph, lot: LotRef): string {
  return lotClassUri(lot, graph.lots.get(lotKey(lot))?.barcode ?? null);
}

function quantityElement(epcClass: string, quantity: Quantity | null): QuantityElement {
  const unit = quantity ? UNITS[quantity.uom] : undefined;
  if (!quantity || !unit) return { epcClass };
  const value = Number("count" in unit ? times(quantity.value, unit.count) : quantity.value);
  if (!Number.isFinite(value)) return { epcClass };
  return "uom" in unit ? { epcClass, quantity: value, uom: unit.uom } : { epcClass, quantity: value };
}

/** An exact decimal string times a whole number, exactly. */
function times(value: string, factor: bigint): string {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(value.trim());
  if (!m || (m[2] === "" && !m[3])) return "NaN";
  const [, sign, whole = "", fraction = ""] = m;
  const digits = (BigInt(`${whole}${fraction}` || "0") * factor)
    .toString()
    .padStart(fraction.length + 1, "0");
  const point = digits.length - fraction.length;
  return `${sign}${digits.slice(0, point)}${fraction ? `.${digits.slice(point)}` : ""}`;
}

/** Net quantity above zero (an exact decimal string). */
const positive = (value: string): boolean => /[1-9]/.test(value) && !value.trim().startsWith("-");

function equipmentUri(site: string | null, line: string | null, machine: string | null): string | null {
  if (machine) return privateUri("machine", site ?? "", line ?? "", machine);
  if (line) return privateUri("line", site ?? "", line);
  if (site) return privateUri("site", site);
  return null;
}

/** Where a step ran: the machine that counted the lot for its orders (counting points first), else the order's line. */
function whereMade(
  graph: Graph,
  lot: TraceLot | undefined,
  orders: readonly string[],
): { readPoint?: { id: string }; bizLocation?: { id: string } } {
  const counted = (lot?.machines ?? [])
    .filter((m) => orders.length === 0 || m.orders.some((o) => orders.includes(o)))
    .map((m) => ({ point: equipmentUri(m.site, m.line, m.machine), site: m.site, counting: m.good !== null }))
    .filter((m) => m.point !== null)
    .sort((a, b) => Number(b.counting) - Number(a.counting) || compare(a.point ?? "", b.point ?? ""));
  const fromOrder = orders
    .map((ref) => graph.orders.get(ref))
    .map((o) => ({ point: o ? equipmentUri(o.site, o.line, null) : null, site: o?.site ?? null }))
    .filter((o) => o.point !== null);
  const where = counted[0] ?? fromOrder[0];
  if (!where?.point) return {};
  return {
    readPoint: { id: where.point },
    ...(where.site ? { bizLocation: { id: privateUri("site", where.site) } } : {}),
  };
}

function transformationEvents(graph: Graph): TransformationEvent[] {
  const steps = new Map<string, { to: LotRef; orders: string[]; edges: TraceEdge[] }>();
  for (const e of graph.edges) {
    const orders = [...new Set(e.orders)].sort();
    const key = `${lotKey(e.to)}\u0000${orders.join("\u0000")}`;
    const step = steps.get(key) ?? { to: e.to, orders, edges: [] };
    step.edges.push(e);
    steps.set(key, step);
  }
  const built = [...steps.values()]
    .map((step) => ({
      ...step,
      inputs: step.edges.filter((e) => positive(e.net)),
      at: utc(
        step.edges
          .map((e) => utc(e.lastAt))
          .sort(compare)
          .at(-1) ?? "",
      ),
    }))
    .filter((step) => step.inputs.length > 0)
    .sort(
      (a, b) =>
        compare(lotKey(a.to), lotKey(b.to)) ||
        compare(a.at, b.at) ||
        compare(a.orders.join("\u0000"), b.orders.join("\u0000")),
    );
  const stepsOf = new Map<string, number>();
  for (const step of built) stepsOf.set(lotKey(step.to), (stepsOf.get(lotKey(step.to)) ?? 0) + 1);
  return built.map((step, i): TransformationEvent => {
    const lot = graph.lots.get(lotKey(step.to));
    const first = i === 0 || lotKey(built[i - 1]!.to) !== lotKey(step.to);
    const output = classOf(graph, step.to);
    const bizTransactionList = step.orders.map(
      (ref): BizTransaction => ({ type: "prodorder", bizTransaction: privateUri("prodorder", ref) }),
    );
    return {
      type: "TransformationEvent",
      eventID: eventId("transformation", step.to.product, step.to.lot, ...step.orders),
      eventTime: step.at,
      eventTimeZoneOffset: TIME_ZONE_OFFSET,
      inputQuantityList: step.inputs.map((e) =>
        quantityElement(classOf(graph, e.from), { value: e.net, uom: e.uom }),
      ),
      outputQuantityList: [
        stepsOf.get(lotKey(step.to)) === 1
          ? quantityElement(output, lot?.quantity ?? null)
          : { epcClass: output },
      ],
      bizStep: first ? "commissioning" : "creating_class_instance",
      disposition: "active",
      ...whereMade(graph, lot, step.orders),
      ...(bizTransactionList.length > 0 ? { bizTransactionList } : {}),
    };
  });
}

function shippingEvents(graph: Graph): ObjectEvent[] {
  return graph.shipments
    .filter((s) => s.status === "SHIPPED" && s.shippedAt !== null && s.lines.length > 0)
    .map((s): ObjectEvent => {
      const bizTransactionList: BizTransaction[] = [
        { type: "desadv", bizTransaction: privateUri("picking", s.pickingRef) },
        ...(s.salesOrder
          ? [{ type: "po" as const, bizTransaction: privateUri("salesorder", s.salesOrder) }]
          : []),
      ];
      const lines = [...s.lines].sort((a, b) => compare(lotKey(a), lotKey(b)));
      return {
        type: "ObjectEvent",
        eventID: eventId("shipping", s.pickingRef),
        eventTime: utc(s.shippedAt ?? ""),
        eventTimeZoneOffset: TIME_ZONE_OFFSET,
        action: "OBSERVE",
        quantityList: lines.map((l) => quantityElement(classOf(graph, l), l.quantity)),
        bizStep: "shipping",
        disposition: "in_transit",
        ...(s.site ? { readPoint: { id: privateUri("site", s.site) } } : {}),
        bizTransactionList,
        ...(s.customerRef
          ? { destinationList: [{ type: "owning_party", destination: privateUri("party", s.customerRef) }] }
          : {}),
      };
    });
}

const RELEASE_DISPOSITION: Readonly<Record<string, ObjectEvent["disposition"]>> = {
  RELEASED: "conformant",
  REJECTED: "non_conformant",
};

function holdEvents(graph: Graph): ObjectEvent[] {
  const events: ObjectEvent[] = [];
  const lots = [...graph.lots.values()].sort((a, b) => compare(lotKey(a), lotKey(b)));
  for (const lot of lots) {
    const quantityList = [{ epcClass: classOf(graph, lot) }];
    const holds = [...lot.holds].sort((a: HoldSummary, b: HoldSummary) => compare(a.holdId, b.holdId));
    for (const hold of holds) {
      if (hold.placedAt !== null)
        events.push({
          type: "ObjectEvent",
          eventID: eventId("hold", hold.holdId),
          eventTime: utc(hold.placedAt),
          eventTimeZoneOffset: TIME_ZONE_OFFSET,
          action: "OBSERVE",
          quantityList,
          bizStep: "holding",
          disposition: "non_sellable_other",
        });
      if (hold.releasedAt !== null && hold.status !== "ACTIVE") {
        const disposition = RELEASE_DISPOSITION[hold.status];
        events.push({
          type: "ObjectEvent",
          eventID: eventId("hold-released", hold.holdId),
          eventTime: utc(hold.releasedAt),
          eventTimeZoneOffset: TIME_ZONE_OFFSET,
          action: "OBSERVE",
          quantityList,
          bizStep: "inspecting",
          ...(disposition ? { disposition } : {}),
        });
      }
    }
  }
  return events;
}
