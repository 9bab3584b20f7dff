/**
 * Genealogy: find a lot, see its trace — backward to what it was made of, forward to what was made of
 * it and where it went — as a tree that opens one level at a time (a node that goes further has a
 * "+" that asks the next level), and its recall report: the customers to call, the lots to block.
 */
import { ApiError, api, messageOf, query } from "../api.js";
import { badge, h, show, table, when } from "../dom.js";

interface TraceNode {
  id: string;
  product: string;
  lot: string;
  depth: number;
  productName: string | null;
  supplierLot: string | null;
  quantity: string | null;
  status: string;
  orders: string[];
  holds: { holdId: string; status: string; reason: string | null }[];
  more: boolean;
}

interface Trace {
  root: string;
  lot: string;
  product: string;
  direction: "backward" | "forward";
  depth: number;
  nodes: TraceNode[];
  edges: { from: string; to: string; parent: string; child: string; quantity: string; orders: string[] }[];
  shipments: {
    pickingRef: string;
    status: string;
    customerRef: string | null;
    customerName: string | null;
    lines: { node: string; quantity: string }[];
  }[];
  supplierLots: { node: string; supplierLot: string }[];
}

interface Quantity {
  value: string;
  uom: string;
}

interface Recall {
  lot: { product: string; lot: string; productName: string | null };
  generatedAt: string;
  lotsAffected: number;
  truncated: boolean;
  shipments: {
    pickingRef: string;
    status: string;
    customerRef: string | null;
    customerName: string | null;
    shippedAt: string | null;
    tracedQuantity: Quantity | null;
  }[];
  customers: {
    customerRef: string;
    name: string | null;
    shipments: string[];
    tracedQuantity: Quantity | null;
  }[];
  toBlock: { product: string; lot: string; stock: { location: string; quantity: Quantity }[] }[];
  onHold: { product: string; lot: string; holds: { holdId: string; reason: string | null }[] }[];
}

const STATUS_TONE: Record<string, "ok" | "warn" | "bad" | "info" | "muted"> = {
  ON_HOLD: "bad",
  IN_STOCK: "ok",
  SHIPPED: "info",
  CONSUMED: "muted",
  UNKNOWN: "muted",
};

const qty = (q: Quantity | null | undefined) => (q ? `${q.value} ${q.uom}` : "unknown");

export async function renderGenealogy(
  root: HTMLElement,
  lot: string | undefined,
  params: URLSearchParams,
): Promise<void> {
  const direction = params.get("direction") === "forward" ? "forward" : "backward";
  const product = params.get("product") ?? "";
  const form = h(
    "form",
    { class: "filters", id: "lot-search" },
    h(
      "label",
      {},
      "lot",
      h("input", {
        name: "lot",
        id: "lot-input",
        value: lot ?? "",
        placeholder: "LOT/2026/001",
        required: true,
      }),
    ),
    h("label", {}, "product (when several have the lot)", h("input", { name: "product", value: product })),
    h(
      "label",
      {},
      "trace",
      h(
        "select",
        { name: "direction", id: "trace-direction" },
        h(
          "option",
          { value: "backward", selected: direction === "backward" },
          "backward: what it was made of",
        ),
        h("option", { value: "forward", selected: direction === "forward" }, "forward: where it went"),
      ),
    ),
    h("button", { type: "submit" }, "Trace"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const name = String(data.get("lot") ?? "").trim();
    if (!name) return;
    location.hash = `#genealogy/${encodeURIComponent(name)}${query({
      direction: String(data.get("direction") ?? "backward"),
      product: String(data.get("product") ?? "").trim(),
    })}`;
  });
  if (!lot) {
    show(root, h("h2", {}, "Lot genealogy"), form, h("p", { class: "muted" }, "name a lot to trace it"));
    return;
  }
  show(root, h("h2", {}, `Lot ${lot}`), form, h("p", { class: "muted" }, "tracing…"));
  let trace: Trace;
  try {
    trace = await api<Trace>(
      "GET",
      `/api/genealogy/lots/${encodeURIComponent(lot)}/trace${query({ direction, depth: "1", product })}`,
    );
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw err;
    // Under the form: the next search is one edit away.
    show(
      root,
      h("h2", {}, `Lot ${lot}`),
      form,
      h("p", { class: "error", role: "alert", id: "page-error" }, messageOf(err)),
    );
    return;
  }
  const recall = h("section", { id: "recall" }, h("p", { class: "muted" }, "reading the recall report…"));
  show(
    root,
    h("h2", {}, `Lot ${trace.lot} (${trace.product})`),
    form,
    h(
      "p",
      { class: "muted" },
      direction === "backward"
        ? "what it was made of, level by level: + opens the next level"
        : "what was made of it and where it went, level by level: + opens the next level",
    ),
    h("div", { id: "genealogy-graph", class: "tree" }, h("ul", {}, treeItem(trace, trace.root, direction))),
    forwardShipments(trace),
    h("h2", {}, "Recall report"),
    recall,
  );
  void loadRecall(recall, trace.lot, trace.product);
}

/** A node and, below it, the children the trace gave it. */
function treeItem(trace: Trace, id: string, direction: string, via?: Trace["edges"][number]): HTMLElement {
  const node = trace.nodes.find((n) => n.id === id);
  if (!node) return h("li", {}, id);
  const children = trace.edges.filter((e) => e.parent === id && e.child !== id);
  const list = h(
    "ul",
    {},
    children.map((e) => treeItem(trace, e.child, direction, e)),
  );
  const item = h(
    "li",
    { class: "node", "data-node": node.id, "data-lot": node.lot, "data-product": node.product },
    h(
      "div",
      { class: "node-line" },
      node.more && children.length === 0
        ? h(
            "button",
            { class: "expand", title: "open the next level", "aria-label": `expand ${node.lot}` },
            "+",
          )
        : h("span", { class: "leaf" }, children.length ? "–" : "·"),
      " ",
      h(
        "a",
        { href: `#genealogy/${encodeURIComponent(node.lot)}${query({ direction, product: node.product })}` },
        h("strong", {}, node.lot),
      ),
      ` ${node.product}${node.productName ? ` ${node.productName}` : ""}`,
      " ",
      badge(node.status.toLowerCase().replace("_", " "), STATUS_TONE[node.status] ?? "muted"),
      node.quantity ? h("span", { class: "muted" }, ` ${node.quantity}`) : null,
      via
        ? h(
            "span",
            { class: "muted" },
            ` · ${via.quantity}${via.orders.length ? ` by ${via.orders.join(", ")}` : ""}`,
          )
        : null,
      node.supplierLot ? h("span", { class: "muted" }, ` · supplier lot ${node.supplierLot}`) : null,
      node.holds
        .filter((x) => x.status === "ACTIVE")
        .map((x) => h("span", {}, " ", badge(`hold ${x.holdId}`, "bad"), x.reason ? ` ${x.reason}` : "")),
    ),
    list,
  );
  const button = item.querySelector(":scope > .node-line > button.expand");
  button?.addEventListener("click", async () => {
    (button as HTMLButtonElement).disabled = true;
    try {
      const next = await api<Trace>(
        "GET",
        `/api/genealogy/lots/${encodeURIComponent(node.lot)}/trace${query({
          direction,
          depth: "1",
          product: node.product,
        })}`,
      );
      const rendered = h("ul", {}, treeItem(next, next.root, direction, via));
      const replacement = rendered.firstElementChild as HTMLElement;
      item.replaceWith(replacement);
    } catch (err) {
      (button as HTMLButtonElement).disabled = false;
      item.appendChild(h("p", { class: "error", role: "alert" }, messageOf(err)));
    }
  });
  return item;
}

function forwardShipments(trace: Trace): HTMLElement | null {
  if (trace.direction !== "forward" || trace.shipments.length === 0) return null;
  return h(
    "div",
    {},
    h("h3", {}, "Deliveries of these lots"),
    table(
      ["Delivery", "Status", "Customer", "Lots"],
      trace.shipments.map((sh) => [
        sh.pickingRef,
        badge(
          sh.status.toLowerCase(),
          sh.status === "BLOCKED" ? "bad" : sh.status === "SHIPPED" ? "info" : "muted",
        ),
        sh.customerName ? `${sh.customerName} (${sh.customerRef})` : (sh.customerRef ?? ""),
        sh.lines.map((l) => `${decodeURIComponent(l.node.split("/")[1] ?? "")} ${l.quantity}`).join(", "),
      ]),
    ),
  );
}

async function loadRecall(section: HTMLElement, lot: string, product: string): Promise<void> {
  let r: Recall;
  try {
    r = await api<Recall>(
      "GET",
      `/api/genealogy/lots/${encodeURIComponent(lot)}/recall${query({ product })}`,
    );
  } catch (err) {
    show(section, h("p", { class: "error", role: "alert" }, messageOf(err)));
    return;
  }
  show(
    section,
    h(
      "p",
      { id: "recall-summary" },
      `${r.lotsAffected} lot(s) affected, ${r.customers.length} customer(s) to contact, ${r.toBlock.length} lot(s) to block, ${r.onHold.length} on hold already`,
      r.truncated
        ? h("span", { class: "warn-text" }, " · the depth limit cut the trace: it goes further")
        : "",
      h("span", { class: "muted" }, ` · ${when(r.generatedAt)}`),
    ),
    h("h3", {}, "Customers to contact"),
    table(
      ["Customer", "Received of this lot", "Deliveries"],
      r.customers.map((c) => [
        c.name ? `${c.name} (${c.customerRef})` : c.customerRef,
        qty(c.tracedQuantity),
        c.shipments.join(", "),
      ]),
      "no customer received any of it",
    ),
    h("h3", {}, "Deliveries"),
    table(
      ["Delivery", "Status", "Customer", "Of this lot", "Shipped"],
      r.shipments.map((sh) => [
        sh.pickingRef,
        badge(
          sh.status.toLowerCase(),
          sh.status === "SHIPPED" ? "info" : sh.status === "BLOCKED" ? "bad" : "muted",
        ),
        sh.customerName ?? sh.customerRef ?? "",
        qty(sh.tracedQuantity),
        when(sh.shippedAt),
      ]),
      "no delivery carries it",
    ),
    h("h3", {}, "Lots to block (in stock, not on hold)"),
    table(
      ["Lot", "Product", "Stock"],
      r.toBlock.map((l) => [
        l.lot,
        l.product,
        l.stock.map((st) => `${qty(st.quantity)} at ${st.location}`).join(", "),
      ]),
      "none: every affected lot in stock is on hold",
    ),
    h("h3", {}, "Lots on hold already"),
    table(
      ["Lot", "Product", "Holds"],
      r.onHold.map((l) => [
        l.lot,
        l.product,
        l.holds.map((x) => `${x.holdId}${x.reason ? ` (${x.reason})` : ""}`).join(", "),
      ]),
      "none",
    ),
  );
}
