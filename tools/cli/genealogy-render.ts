/**
 * How `threadline genealogy` shows the service's answers to a person: a trace as an indented tree of
 * lots (or as Graphviz DOT), a recall report as the three lists someone acts on — whom to call, what
 * to block, what is held already. Pure functions of the answers; the JSON is the `--json` output.
 */
import type {
  LotRef,
  Quantity,
  RecallReport,
  TraceEdge,
  TraceLot,
  TraceResult,
} from "../../services/genealogy-builder/src/query/types.js";

/** "12.500000 kg" as "12.5 kg": the exact decimal without its trailing zeros. */
export function quantityText(q: Quantity | null | undefined): string {
  if (!q) return "?";
  const value = q.value.includes(".") ? q.value.replace(/0+$/, "").replace(/\.$/, "") : q.value;
  return `${value} ${q.uom}`;
}

const lotName = (lot: string) => (lot === "" ? "(untracked)" : lot);
const keyOf = (l: LotRef) => `${l.product}\u0000${l.lot}`;
export const lotText = (l: LotRef) => `${l.product} ${lotName(l.lot)}`;

/** One lot's line: who it is, how much, its state, and where it came from. */
function lotLine(l: TraceLot): string {
  const parts = [
    lotText(l),
    ...(l.productName ? [JSON.stringify(l.productName)] : []),
    ...(l.quantity ? [quantityText(l.quantity)] : []),
    l.status,
  ];
  const more: string[] = [];
  if (l.orders.length > 0) more.push(`orders ${l.orders.join(", ")}`);
  const machines = l.machines.map((m) => [m.line, m.machine].filter(Boolean).join("/") || m.site || "?");
  if (machines.length > 0) more.push(`machines ${[...new Set(machines)].join(", ")}`);
  if (l.supplierLot) more.push(`supplier lot ${l.supplierLot}`);
  for (const h of l.holds.filter((h) => h.status === "ACTIVE"))
    more.push(`hold ${h.holdId}${h.reason ? `: ${h.reason}` : ""}`);
  return [parts.join("  "), ...more].join("  · ");
}

/**
 * A trace as a tree from the traced lot: backward each lot's components under it ("<-", the quantity
 * it took), forward the lots made of it (" ->", the quantity that went in). A lot met a second time
 * (two paths lead to it) is shown once in full and then as "(see above)".
 */
export function traceTree(t: TraceResult): string {
  const lots = new Map(t.lots.map((l) => [keyOf(l), l]));
  const next = new Map<string, TraceEdge[]>();
  for (const e of t.edges) {
    const from = keyOf(t.direction === "backward" ? e.to : e.from);
    next.set(from, [...(next.get(from) ?? []), e]);
  }
  const arrow = t.direction === "backward" ? "<-" : "->";
  const out = [
    `${t.direction} trace of ${lotText(t.root)} (depth ${t.depth}${t.since ? `, since ${t.since}` : ""}${t.until ? `, until ${t.until}` : ""})`,
    lotLine(t.root),
  ];
  const shown = new Set([keyOf(t.root)]);
  const walk = (key: string, indent: string, path: Set<string>) => {
    for (const e of next.get(key) ?? []) {
      const ref = t.direction === "backward" ? e.from : e.to;
      const k = keyOf(ref);
      const lot = lots.get(k);
      const qty = `${arrow} ${quantityText({ value: e.net, uom: e.uom })}`;
      if (!lot || shown.has(k) || path.has(k)) {
        out.push(`${indent}${qty}  ${lotText(ref)}  (see above)`);
        continue;
      }
      shown.add(k);
      out.push(`${indent}${qty}  ${lotLine(lot)}`);
      walk(k, `${indent}  `, new Set([...path, k]));
    }
  };
  walk(keyOf(t.root), "  ", new Set([keyOf(t.root)]));
  if (t.direction === "forward") {
    out.push("", `shipments (${t.shipments.length}):`);
    for (const s of t.shipments)
      out.push(
        `  ${s.pickingRef}  ${s.status}${s.shippedAt ? ` ${s.shippedAt}` : ""}  to ${s.customerRef ?? "?"}${s.customerName ? ` ${s.customerName}` : ""}${s.salesOrder ? `  (${s.salesOrder})` : ""}  ${s.lines.map((l) => `${lotText(l)} ${quantityText(l.quantity)}`).join(", ")}`,
      );
    out.push(`customers (${t.customers.length}):`);
    for (const c of t.customers)
      out.push(
        `  ${c.customerRef}${c.name ? ` ${c.name}` : ""}  ${quantityText(c.tracedQuantity)} of ${lotText(t.root)}  (${c.shipments.join(", ")})`,
      );
  } else if (t.supplierLots.length > 0) {
    out.push("", `supplier lots (${t.supplierLots.length}):`);
    for (const s of t.supplierLots) out.push(`  ${lotText(s.lot)}  supplier lot ${s.supplierLot}`);
  }
  if (t.truncated) out.push("", `the depth limit (${t.depth}) cut the trace: it goes further (--depth)`);
  if (t.cyclesSkipped > 0) out.push(`${t.cyclesSkipped} edge(s) closing a cycle (rework) not followed again`);
  return `${out.join("\n")}\n`;
}

/** A DOT string literal. */
const dot = (text: string) =>
  `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;

/**
 * A trace as a Graphviz digraph: lots as boxes, edges in the direction material flows (component to
 * product, whichever way the trace went), labelled with the net quantity; the traced lot bold, lots
 * on hold red; forward, the shipments and their customers too.
 */
export function traceDot(t: TraceResult): string {
  const id = (l: LotRef) => dot(`lot:${l.product}/${l.lot}`);
  const lines = ["digraph genealogy {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];'];
  for (const l of t.lots) {
    const label = [l.product, lotName(l.lot), ...(l.quantity ? [quantityText(l.quantity)] : [])].join("\n");
    const style = [
      ...(keyOf(l) === keyOf(t.root) ? ["penwidth=2"] : []),
      ...(l.status === "ON_HOLD" ? ["color=red"] : []),
    ];
    lines.push(`  ${id(l)} [label=${dot(label)}${style.map((s) => `, ${s}`).join("")}];`);
  }
  for (const e of t.edges)
    lines.push(`  ${id(e.from)} -> ${id(e.to)} [label=${dot(quantityText({ value: e.net, uom: e.uom }))}];`);
  for (const s of t.shipments) {
    const ship = dot(`shipment:${s.pickingRef}`);
    lines.push(`  ${ship} [shape=folder, label=${dot(`${s.pickingRef}\n${s.status}`)}];`);
    for (const l of s.lines) lines.push(`  ${id(l)} -> ${ship} [label=${dot(quantityText(l.quantity))}];`);
    if (s.customerRef) {
      const customer = dot(`customer:${s.customerRef}`);
      lines.push(
        `  ${customer} [shape=ellipse, label=${dot(`${s.customerRef}\n${s.customerName ?? ""}`.trim())}];`,
      );
      lines.push(`  ${ship} -> ${customer};`);
    }
  }
  lines.push("}");
  return `${[...new Set(lines)].join("\n")}\n`;
}

/** A recall report as what to do: customers to contact, lots to block, lots already held. */
export function recallText(r: RecallReport): string {
  const out = [
    `recall of ${lotText(r.lot)}${r.lot.productName ? ` ${JSON.stringify(r.lot.productName)}` : ""}: ${r.lotsAffected} lot(s) affected (${r.generatedAt})`,
    "",
    `customers to contact (${r.customers.length}):`,
    ...r.customers.map(
      (c) =>
        `  ${c.customerRef}${c.name ? ` ${c.name}` : ""}  ${c.tracedQuantity ? `${quantityText(c.tracedQuantity)} of the lot` : "quantity unknown"}  (${c.shipments.join(", ")})`,
    ),
  ];
  const pending = r.shipments.filter((s) => s.status === "REQUESTED" || s.status === "BLOCKED");
  if (pending.length > 0)
    out.push(
      `shipments not gone yet: stop them (${pending.length}):`,
      ...pending.map((s) => `  ${s.pickingRef}  ${s.status}  to ${s.customerRef ?? "?"}`),
    );
  out.push(
    `lots to block (${r.toBlock.length}):`,
    ...r.toBlock.map(
      (l) =>
        `  ${lotText(l)}  ${l.stock.map((s) => `${quantityText(s.quantity)} in ${s.location}`).join(", ") || "no stock known"}`,
    ),
    `lots on hold (${r.onHold.length}):`,
    ...r.onHold.map(
      (l) =>
        `  ${lotText(l)}  ${l.holds.map((h) => `${h.holdId}${h.placedAt ? ` since ${h.placedAt}` : ""}${h.reason ? `: ${h.reason}` : ""}`).join("; ")}`,
    ),
  );
  if (r.truncated) out.push("", "the depth limit cut the report: more lots may be affected (--depth)");
  return `${out.join("\n")}\n`;
}
