/**
 * Business health: over 6 h, 24 h or 7 d, bars of the dead letters, the Odoo posting lag, the missed
 * holds and the backlog; the durables' backlog now; the orders whose counts are not all posted.
 */
import { api } from "../api.js";
import { badge, h, show, table, when } from "../dom.js";
import { s, tip } from "../svg.js";

interface Bucket {
  at: string;
  deadLetters: number;
  missedHolds: number;
  postings: number;
  lagP50Seconds: number | null;
  lagMaxSeconds: number | null;
}
interface Overview {
  since: string;
  bucketSeconds: number;
  buckets: Bucket[];
  unposted: {
    orderRef: string;
    counted: number;
    posted: number;
    uom: string;
    postedUom: string;
    unposted: number | null;
  }[];
  unpostedOrders: number;
  backlog: { stream: string; durable: string; pending: number; ackPending: number; redelivered: number }[];
  backlogSamples: { at: string; total: number }[];
}

const WINDOWS = ["6h", "24h", "7d"] as const;

/** Bars of one series, with each bar's value and time in its tooltip; `bad` colours non-zero bars red. */
function bars(
  id: string,
  title: string,
  points: { at: string; value: number | null }[],
  unit: string,
  bad = false,
) {
  const width = 360;
  const height = 90;
  const values = points.map((p) => p.value ?? 0);
  // The bars' scale starts at 1 so that a quiet window does not draw noise as full bars.
  const max = Math.max(1, ...values);
  const highest = Math.max(0, ...values);
  const w = width / Math.max(1, points.length);
  const total = points.reduce((n, p) => n + (p.value ?? 0), 0);
  return h(
    "figure",
    { class: "spark", id },
    h("figcaption", {}, title),
    s(
      "svg",
      { viewBox: `0 0 ${width} ${height + 2}`, width, height: height + 2, role: "img", "aria-label": title },
      s("line", { x1: 0, y1: height, x2: width, y2: height, class: "axis" }),
      ...points.map((p, i) => {
        const v = p.value ?? 0;
        const bh = (v / max) * (height - 4);
        return s(
          "rect",
          {
            x: i * w + 1,
            y: height - bh,
            width: Math.max(1, w - 2),
            height: bh,
            class: bad && v > 0 ? "bar bad" : "bar",
          },
          tip(`${when(p.at)}: ${p.value === null ? "–" : `${Math.round(v * 10) / 10} ${unit}`}`),
        );
      }),
    ),
    h(
      "p",
      { class: "muted" },
      `highest ${Math.round(highest * 10) / 10} ${unit}${bad ? ` · ${total} in all` : ""}`,
    ),
  );
}

export async function renderHealth(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const window = (WINDOWS as readonly string[]).includes(params.get("window") ?? "")
    ? params.get("window")!
    : "24h";
  const o = await api<Overview>("GET", `/api/health?window=${window}`);
  show(
    root,
    h("h2", {}, "Business health"),
    h(
      "p",
      { class: "actions" },
      WINDOWS.map((w) => h("a", { href: `#health?window=${w}`, class: w === window ? "button" : "" }, w)),
      h("span", { class: "muted" }, ` since ${when(o.since)}, ${Math.round(o.bucketSeconds / 60)} min a bar`),
    ),
    h(
      "div",
      { class: "sparks" },
      bars(
        "health-dead-letters",
        "Dead letters",
        o.buckets.map((b) => ({ at: b.at, value: b.deadLetters })),
        "",
        true,
      ),
      bars(
        "health-lag",
        "Posting lag to Odoo (median)",
        o.buckets.map((b) => ({ at: b.at, value: b.lagP50Seconds })),
        "s",
      ),
      bars(
        "health-lag-max",
        "Posting lag to Odoo (worst)",
        o.buckets.map((b) => ({ at: b.at, value: b.lagMaxSeconds })),
        "s",
      ),
      bars(
        "health-missed-holds",
        "Missed holds (held lots that left)",
        o.buckets.map((b) => ({ at: b.at, value: b.missedHolds })),
        "",
        true,
      ),
      bars(
        "health-backlog",
        "Backlog (sampled each minute)",
        o.backlogSamples.map((p) => ({ at: p.at, value: p.total })),
        "msgs",
      ),
    ),
    h("h3", {}, "Backlog now"),
    table(
      ["Durable", "Stream", "Waiting", "Delivered, not acked", "Redelivered"],
      o.backlog.map((b) => [
        b.durable,
        b.stream,
        b.pending > 0 ? badge(String(b.pending), b.pending > 1000 ? "bad" : "warn") : "0",
        String(b.ackPending),
        String(b.redelivered),
      ]),
      "no durable",
    ),
    h("h3", {}, `Counted on the floor, not posted in Odoo (${o.unpostedOrders} order(s))`),
    table(
      ["Order", "Counted", "Posted", "Not posted"],
      o.unposted.map((u) => [
        h("a", { href: `#orders/${encodeURIComponent(u.orderRef)}` }, u.orderRef),
        `${u.counted} ${u.uom}`,
        `${u.posted} ${u.postedUom}`,
        u.unposted === null
          ? h("span", { class: "muted" }, "units differ: threadline odoo reconcile")
          : badge(`${u.unposted} ${u.uom}`, "warn"),
      ]),
      "every count is posted",
    ),
  );
}
