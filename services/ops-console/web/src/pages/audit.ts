/** The ops audit trail: every replay, redrive and purge — and every one refused — with who and when. */
import { api } from "../api.js";
import { badge, h, show, table, when } from "../dom.js";

interface Record {
  action: string;
  who: string;
  at: string;
  outcome: string;
  selection: unknown;
  details: unknown;
}

const TONE: { [k: string]: "ok" | "bad" | "warn" } = {
  done: "ok",
  failed: "bad",
  interrupted: "warn",
  refused: "bad",
};

export async function renderAudit(root: HTMLElement): Promise<void> {
  const data = await api<{ items: Record[] }>("GET", "/api/audit");
  show(
    root,
    h("h2", {}, "Audit trail (last 7 days)"),
    table(
      ["When", "Who", "Action", "Outcome", "Selection", "Details"],
      data.items.map((r) => [
        when(r.at),
        r.who,
        r.action,
        badge(r.outcome, TONE[r.outcome] ?? "warn"),
        h("code", {}, JSON.stringify(r.selection)),
        h("code", {}, JSON.stringify(r.details)),
      ]),
      "nothing recorded",
    ),
  );
}
