/**
 * Dead letters: a filterable list; one letter with its reason, headers and decoded payload; redrive
 * and purge behind a confirmation that shows the dry run's answer — what will happen — first.
 */
import { api, messageOf, query, type User } from "../api.js";
import { badge, h, json, show, table, when } from "../dom.js";

interface Summary {
  seq: number;
  storedAt: string;
  stream: string;
  consumer: string;
  code: string;
  message: string;
  deliveries: number;
  type: string | null;
  key: string | null;
}

const FILTERS = ["stream", "consumer", "code", "type", "since", "text"] as const;

export async function renderDeadLetters(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const filter = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? undefined]));
  const form = h(
    "form",
    { class: "filters", id: "dlq-filter" },
    FILTERS.map((f) =>
      h(
        "label",
        {},
        f,
        h("input", {
          name: f,
          value: filter[f] ?? "",
          placeholder: f === "since" ? "2h, 3d or ISO time" : "",
        }),
      ),
    ),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    location.hash = `#dead-letters${query(Object.fromEntries(FILTERS.map((f) => [f, String(data.get(f) ?? "").trim()])))}`;
  });
  show(root, h("h2", {}, "Dead letters"), form, h("p", { class: "muted" }, "reading…"));
  const data = await api<{ total: number; items: Summary[] }>("GET", `/api/dead-letters${query(filter)}`);
  show(
    root,
    h("h2", {}, "Dead letters"),
    form,
    h(
      "p",
      { class: "muted", id: "dlq-count" },
      `${data.total} dead letter(s)${data.total > data.items.length ? `, the newest ${data.items.length} shown` : ""}`,
    ),
    table(
      ["Seq", "When", "From", "Reason", "Message", "Type", "Key"],
      data.items.map((d) => [
        h("a", { href: `#dead-letters/${d.seq}`, class: "dlq-link" }, String(d.seq)),
        when(d.storedAt),
        `${d.stream} / ${d.consumer}`,
        h("code", {}, d.code),
        d.message,
        d.type ?? "",
        d.key ?? "",
      ]),
      "no dead letter matches: nothing failed for good",
    ),
  );
}

interface Detail extends Summary {
  subject: string;
  sequence: number | null;
  firstFailureAt: string;
  lastFailureAt: string;
  headers: Record<string, string[]>;
  payload:
    | { ok: true; json: unknown; writer: { subject?: string; fingerprint: string } }
    | { ok: false; error: string };
}

export async function renderDeadLetter(root: HTMLElement, seq: number, user: User): Promise<void> {
  const d = await api<Detail>("GET", `/api/dead-letters/${seq}`);
  const operator = user.roles.includes("operator");
  const outcome = h("div", { id: "dlq-outcome", role: "status" });
  const actions = h(
    "div",
    { class: "actions" },
    h("button", { id: "redrive", onclick: () => confirmAction(seq, "redrive", outcome) }, "Redrive…"),
    h(
      "button",
      { id: "purge", class: "danger", onclick: () => confirmAction(seq, "purge", outcome) },
      "Purge…",
    ),
    operator ? null : h("span", { class: "muted" }, " (needs the operator role: the server will refuse)"),
  );
  show(
    root,
    h("p", {}, h("a", { href: "#dead-letters" }, "← dead letters")),
    h("h2", {}, `Dead letter ${d.seq}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Reason"),
      h("dd", { id: "dlq-reason" }, h("code", {}, d.code), " ", d.message),
      h("dt", {}, "From"),
      h(
        "dd",
        {},
        `${d.stream}${d.sequence === null ? " (refused before publishing)" : ` #${d.sequence}`} on ${d.subject}`,
      ),
      h("dt", {}, "Consumer"),
      h("dd", {}, `${d.consumer}, gave up after ${d.deliveries} attempt(s)`),
      h("dt", {}, "Failed"),
      h("dd", {}, `first ${when(d.firstFailureAt)}, last ${when(d.lastFailureAt)}`),
      h("dt", {}, "Event"),
      h("dd", {}, `${d.type ?? "unknown type"} · key ${d.key ?? "–"}`),
    ),
    actions,
    outcome,
    h("h3", {}, "Payload"),
    d.payload.ok
      ? json(d.payload.json)
      : h("p", { class: "bad-text" }, `does not decode: ${d.payload.error}`),
    h("details", {}, h("summary", {}, "Headers"), json(d.headers)),
  );
}

/** Asks the server for the dry run, shows it, and acts only once confirmed. */
async function confirmAction(seq: number, action: "redrive" | "purge", outcome: HTMLElement): Promise<void> {
  outcome.replaceChildren();
  let preview: { items: { action?: string; reason?: string; consumer?: string }[] };
  try {
    preview = await api("POST", `/api/dead-letters/${action}`, { sequences: [seq], dryRun: true });
  } catch (err) {
    outcome.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(err)));
    return;
  }
  const lines =
    action === "redrive"
      ? preview.items.map((i) =>
          i.action === "skipped"
            ? `dead letter ${seq} would be skipped: ${i.reason}`
            : `dead letter ${seq} goes back to ${i.consumer}, only that consumer; it leaves MFG_DLQ once handled`,
        )
      : [`dead letter ${seq} will be deleted from MFG_DLQ for good; the audit trail keeps who and when`];
  const nothingToDo = action === "redrive" && preview.items.every((i) => i.action === "skipped");
  const dialog = h(
    "dialog",
    { id: "confirm" },
    h("h3", {}, action === "redrive" ? "Redrive this dead letter?" : "Purge this dead letter?"),
    lines.map((l) => h("p", {}, l)),
    h(
      "form",
      { method: "dialog", class: "actions" },
      h("button", { value: "cancel" }, nothingToDo ? "Close" : "Cancel"),
      // A redrive the dry run says would skip everything has nothing to confirm.
      nothingToDo
        ? null
        : h(
            "button",
            { value: "confirm", id: "confirm-action", class: action === "purge" ? "danger" : "" },
            action === "redrive" ? "Redrive" : "Purge",
          ),
    ),
  );
  document.body.appendChild(dialog);
  dialog.addEventListener("close", async () => {
    dialog.remove();
    if (dialog.returnValue !== "confirm") return;
    outcome.replaceChildren(h("p", { class: "muted" }, `${action} in progress…`));
    try {
      const r = await api<{
        handled?: number;
        failedAgain?: number[];
        stillWaiting?: number[];
        deleted?: number;
      }>("POST", `/api/dead-letters/${action}`, { sequences: [seq], dryRun: false });
      outcome.replaceChildren(
        action === "purge"
          ? h("p", { class: "ok-text" }, badge("purged", "ok"), ` ${r.deleted} dead letter deleted`)
          : r.handled
            ? h("p", { class: "ok-text" }, badge("handled", "ok"), " redriven and handled: it left MFG_DLQ")
            : r.failedAgain?.length
              ? h(
                  "p",
                  { class: "bad-text" },
                  badge("failed again", "bad"),
                  ` it was dead-lettered anew (MFG_DLQ ${r.failedAgain.join(", ")})`,
                )
              : h(
                  "p",
                  { class: "warn-text" },
                  badge("waiting", "warn"),
                  " redriven, not handled yet: is the service running?",
                ),
      );
    } catch (err) {
      outcome.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(err)));
    }
  });
  dialog.showModal();
}
