/** One order: where it stands and why, its dead letters, and every event about it across the streams, in time order. */
import { api } from "../api.js";
import { ago, badge, h, json, show, table, when } from "../dom.js";

interface Timeline {
  order: {
    orderRef: string;
    product: string | null;
    quantity: string | null;
    line: string | null;
    lots: string[];
    step: string;
    waitingFor: string | null;
    reason: string | null;
    since: string;
    overdue: boolean;
    good: number;
    reject: number;
    posted: number;
    stuck: boolean;
  };
  events: {
    stream: string;
    seq: number;
    storedAt: string;
    type: string;
    key: string;
    source: string;
    value: unknown;
  }[];
  deadLetters: {
    seq: number;
    code: string;
    message: string;
    consumer: string;
    type: string | null;
    storedAt: string;
  }[];
  scan: { read: number; undecodable: number; truncated: boolean };
}

interface OdooView {
  configured: boolean;
  reconciledAt?: string | null;
  drift?: { orderRef: string; quantity: number }[];
}

/** Odoo's produced quantity against the postings, as the connector's last reconciliation saw them. */
function odooLine(odoo: OdooView | undefined, ref: string): string {
  if (!odoo?.configured) return "not known here (the Odoo connector is not configured or not answering)";
  if (!odoo.reconciledAt) return "not reconciled yet";
  const drift = odoo.drift?.find((d) => d.orderRef === ref);
  return drift
    ? `drift ${drift.quantity}: Odoo's produced quantity minus the postings, at the reconciliation ${ago(odoo.reconciledAt)}`
    : `agrees with the postings at the last reconciliation (${ago(odoo.reconciledAt)})`;
}

const short = (type: string) => type.replace(/^mfg\./, "").replace(/\.v\d+$/, "");

export async function renderTimeline(root: HTMLElement, ref: string): Promise<void> {
  const [t, odoo] = await Promise.all([
    api<Timeline>("GET", `/api/orders/${encodeURIComponent(ref)}`),
    // What Odoo holds, as the connector's last reconciliation found it; the page does without it.
    api<OdooView>("GET", "/api/odoo-connector").catch(() => undefined),
  ]);
  const o = t.order;
  show(
    root,
    h("p", {}, h("a", { href: "#orders" }, "← orders")),
    h("h2", {}, `Order ${o.orderRef}`),
    h(
      "dl",
      { class: "facts", id: "order-facts" },
      h("dt", {}, "Product"),
      h("dd", {}, `${o.product ?? "?"} × ${o.quantity ?? "?"}`),
      h("dt", {}, "Line"),
      h("dd", {}, o.line ?? "–"),
      h("dt", {}, "Lots"),
      h("dd", {}, o.lots.join(", ") || "–"),
      h("dt", {}, "Step"),
      h(
        "dd",
        { id: "order-step" },
        badge(o.step, o.stuck ? "warn" : "info"),
        ` since ${ago(o.since)}`,
        o.overdue ? badge("overdue", "bad") : null,
      ),
      h("dt", {}, "Waiting for"),
      h("dd", { id: "order-waiting" }, o.waitingFor ?? "nothing"),
      h("dt", {}, "Why"),
      h("dd", { id: "order-reason" }, o.reason ?? "–"),
      h("dt", {}, "Made"),
      h("dd", {}, `${o.good} good, ${o.reject} reject; posted in Odoo ${o.posted} time(s)`),
      h("dt", {}, "Odoo"),
      h("dd", { id: "order-odoo" }, odooLine(odoo, ref)),
    ),
    t.deadLetters.length > 0
      ? h(
          "section",
          { class: "alert", id: "order-dead-letters" },
          h("h3", {}, `${t.deadLetters.length} dead letter(s): what failed for good`),
          table(
            ["Seq", "Consumer", "Reason", "Message", "When"],
            t.deadLetters.map((d) => [
              h("a", { href: `#dead-letters/${d.seq}` }, String(d.seq)),
              d.consumer,
              h("code", {}, d.code),
              d.message,
              when(d.storedAt),
            ]),
          ),
        )
      : null,
    h("h3", {}, "Timeline"),
    t.scan.truncated
      ? h("p", { class: "warn-text" }, "The read was cut short: older events may be missing.")
      : null,
    h(
      "ol",
      { class: "timeline", id: "timeline" },
      t.events.map((e) =>
        h(
          "li",
          {},
          h(
            "details",
            {},
            h(
              "summary",
              {},
              h("time", {}, when(e.storedAt)),
              " ",
              h("strong", {}, short(e.type)),
              h("span", { class: "muted" }, ` ${e.stream} #${e.seq} · ${e.key}`),
            ),
            json(e.value),
          ),
        ),
      ),
    ),
  );
}
