/** Plants: each OPC UA connector and each machine, online or not, with its state and open downtime. */
import { api } from "../api.js";
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

export async function renderPlants(root: HTMLElement): Promise<void> {
  const data = await api<{ connectors: Connector[]; machines: Machine[] }>("GET", "/api/plants");
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
  );
}
