/** Plants: each OPC UA connector and each machine, online or not, with its state and open downtime. */
import { api, messageOf } from "../api.js";
import { ago, badge, h, show, table, when } from "../dom.js";

interface Connector {
  connectorId: string;
  endpoint: string;
  status: string;
  online: boolean;
  reason: string | null;
  lastHeartbeatAt: string | null;
  changedAt: string;
  equipment: string[];
}
interface Machine {
  path: string;
  line: string | null;
  machine: string;
  state: string;
  mode: string | null;
  stopReason: { code?: string; text?: string } | null;
  changedAt: string;
  downtime: { since: string; reason: unknown; category: unknown } | null;
  stale: boolean;
}

const STATE_TONE: Record<string, "ok" | "warn" | "bad" | "info"> = {
  EXECUTE: "ok",
  IDLE: "info",
  STOPPED: "warn",
  HELD: "warn",
  SUSPENDED: "warn",
  ABORTED: "bad",
};

interface OdooConnector {
  configured: boolean;
  breaker?: string | null;
  syncAgeSeconds?: { model: string; seconds: number }[];
  backlog?: { consumer: string; events: number }[];
  inFlight?: number | null;
  reconciledAt?: string | null;
  drift?: { orderRef: string; quantity: number }[];
}

/** The Odoo connector's panel: its breaker, how fresh each synced model is, its backlog, its drift. */
async function odooPanel(): Promise<HTMLElement> {
  let o: OdooConnector;
  try {
    o = await api<OdooConnector>("GET", "/api/odoo-connector");
  } catch (err) {
    return h(
      "section",
      { id: "odoo-connector" },
      h("h2", {}, "Odoo connector"),
      h("p", { class: "error", role: "alert" }, messageOf(err)),
    );
  }
  if (!o.configured)
    return h(
      "section",
      { id: "odoo-connector" },
      h("h2", {}, "Odoo connector"),
      h("p", { class: "muted" }, "not configured (ODOO_CONNECTOR_URL)"),
    );
  const stale = Math.max(0, ...(o.syncAgeSeconds ?? []).map((m) => m.seconds));
  return h(
    "section",
    { id: "odoo-connector" },
    h("h2", {}, "Odoo connector"),
    h(
      "p",
      {},
      "breaker ",
      badge(o.breaker ?? "unknown", o.breaker === "closed" ? "ok" : o.breaker === "open" ? "bad" : "warn"),
      ` · oldest sync ${Math.round(stale)} s ago`,
      ` · ${(o.backlog ?? []).reduce((n, b) => n + b.events, 0)} event(s) waiting`,
      o.inFlight != null ? ` · ${o.inFlight} request(s) to Odoo in flight` : "",
      o.reconciledAt ? ` · reconciled with Odoo ${ago(o.reconciledAt)}` : "",
    ),
    table(
      ["Synced model", "Age"],
      (o.syncAgeSeconds ?? []).map((m) => [
        m.model,
        badge(`${Math.round(m.seconds)} s`, m.seconds > 600 ? "bad" : m.seconds > 120 ? "warn" : "ok"),
      ]),
      "no sync yet",
    ),
    (o.drift ?? []).length > 0
      ? h(
          "div",
          {},
          h("h3", {}, "Drift: Odoo's produced quantity minus what was posted"),
          table(
            ["Order", "Drift"],
            (o.drift ?? []).map((d) => [
              h("a", { href: `#orders/${encodeURIComponent(d.orderRef)}` }, d.orderRef),
              badge(String(d.quantity), "bad"),
            ]),
          ),
        )
      : null,
  );
}

export async function renderPlants(root: HTMLElement): Promise<void> {
  const [data, odoo] = await Promise.all([
    api<{ connectors: Connector[]; machines: Machine[] }>("GET", "/api/plants"),
    odooPanel(),
  ]);
  show(
    root,
    h("h2", {}, "Plant connectors"),
    table(
      ["Connector", "Endpoint", "Status", "Why", "Last heartbeat", "Since"],
      data.connectors.map((c) => [
        c.connectorId,
        h("code", {}, c.endpoint),
        badge(c.status, c.online ? "ok" : c.status === "DEGRADED" ? "warn" : "bad"),
        c.reason ?? "",
        ago(c.lastHeartbeatAt),
        when(c.changedAt),
      ]),
      "no connector has reported yet",
    ),
    h("h2", {}, "Machines"),
    table(
      ["Machine", "Line", "State", "Mode", "Stop reason", "Downtime", "Since"],
      data.machines.map((m) => [
        h(
          "span",
          {},
          m.machine,
          m.stale
            ? h("span", { class: "muted", title: "its connector is offline: last known state" }, " (stale)")
            : null,
        ),
        m.line ?? "",
        badge(m.state, STATE_TONE[m.state] ?? "info"),
        m.mode ?? "",
        m.stopReason ? JSON.stringify(m.stopReason) : "",
        m.downtime ? h("span", { class: "bad-text" }, `down ${ago(m.downtime.since)}`) : "",
        when(m.changedAt),
      ]),
      "no machine state yet",
    ),
    odoo,
  );
}
