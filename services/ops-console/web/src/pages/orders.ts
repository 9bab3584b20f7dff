/** Orders: each production order's step, what it waits for and why; stuck ones can be shown alone. */
import { api, query } from "../api.js";
import { ago, badge, h, show, table } from "../dom.js";

export interface OrderSummary {
  orderRef: string;
  product: string | null;
  quantity: string | null;
  line: string | null;
  lot: string | null;
  step: string;
  waitingFor: string | null;
  reason: string | null;
  since: string;
  overdue: boolean;
  good: number;
  reject: number;
  deadLetters: number;
  stuck: boolean;
}

export async function renderOrders(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const stuck = params.get("stuck") === "true";
  const data = await api<{ items: OrderSummary[] }>(
    "GET",
    `/api/orders${query({ stuck: stuck ? "true" : undefined })}`,
  );
  const toggle = h("input", { type: "checkbox", id: "stuck-only", checked: stuck });
  toggle.addEventListener("change", () => {
    location.hash = toggle.checked ? "#orders?stuck=true" : "#orders";
  });
  show(
    root,
    h("h2", {}, "Production orders"),
    h("label", { class: "inline" }, toggle, " stuck only (waiting, overdue or dead-lettered)"),
    table(
      ["Order", "Product", "Qty", "Line", "Step", "Waiting for", "Why", "Made", "In step"],
      data.items.map((o) => [
        h("a", { href: `#orders/${encodeURIComponent(o.orderRef)}`, class: "order-link" }, o.orderRef),
        o.product ?? "",
        o.quantity ?? "",
        o.line ?? "",
        h(
          "span",
          {},
          badge(o.step, o.stuck ? "warn" : "info"),
          o.overdue ? badge("overdue", "bad") : null,
          o.deadLetters > 0 ? badge(`${o.deadLetters} dead letter(s)`, "bad") : null,
        ),
        o.waitingFor ?? "",
        o.reason ?? "",
        `${o.good} good / ${o.reject} reject`,
        ago(o.since),
      ]),
      stuck ? "no stuck order" : "no order in the last 30 days",
    ),
  );
}
