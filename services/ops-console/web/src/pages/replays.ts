/**
 * Replays: choose a durable and a selection, see the dry run (how many events, first, last, a sample),
 * start it after a confirmation, watch its progress, stop it. The page refreshes itself while a job runs.
 */
import { api, messageOf, type User } from "../api.js";
import { badge, h, show, table, when } from "../dom.js";

interface Target {
  stream: string;
  durable: string;
}
interface Row {
  seq: number;
  storedAt: string;
  type: string;
  key: string;
}
interface Preview {
  count: number;
  first?: Row;
  last?: Row;
  sample: Row[];
  channel: string;
}
interface Job {
  job: string;
  stream: string;
  durable: string;
  /** Absent for a job known only by its saved position (another replica's, or an earlier run's). */
  who?: string;
  startedAt?: string;
  selection?: Record<string, string>;
  state: "running" | "done" | "stopped" | "failed" | "elsewhere";
  sent: number;
  total?: number | null;
  endSequence?: number;
  etaSeconds?: number | null;
  error?: string | null;
  deadLettered?: number | null;
}

const FIELDS = ["since", "until", "type", "key", "subject"] as const;
const TONE = { running: "info", done: "ok", stopped: "warn", failed: "bad", elsewhere: "muted" } as const;
let refresh: number | undefined;

export async function renderReplays(root: HTMLElement, user: User): Promise<void> {
  window.clearTimeout(refresh);
  const [targets, jobs] = await Promise.all([
    api<{ items: Target[] }>("GET", "/api/replays/targets"),
    api<{ items: Job[] }>("GET", "/api/replays"),
  ]);
  const operator = user.roles.includes("operator");
  const target = h(
    "select",
    { name: "target", id: "replay-target", required: true },
    targets.items.map((t) =>
      h("option", { value: `${t.stream}|${t.durable}` }, `${t.durable} (${t.stream})`),
    ),
  );
  const rate = h("input", { name: "rate", type: "number", min: "1", placeholder: "unlimited" });
  const inputs = Object.fromEntries(
    FIELDS.map((f) => [
      f,
      h("input", { name: f, placeholder: f === "since" || f === "until" ? "2h, 3d or ISO time" : "" }),
    ]),
  );
  const outcome = h("div", { id: "replay-outcome", role: "status" });
  const form = h(
    "form",
    { class: "filters", id: "replay-form" },
    h("label", {}, "durable", target),
    FIELDS.map((f) => h("label", {}, f, inputs[f])),
    h("label", {}, "events/s", rate),
    h("button", { type: "submit", id: "replay-preview" }, "Preview…"),
  );
  const request = () => {
    const [stream, durable] = target.value.split("|");
    const body: Record<string, unknown> = { stream, durable };
    for (const f of FIELDS) if (inputs[f]!.value.trim()) body[f] = inputs[f]!.value.trim();
    if (rate.value) body["rate"] = Number(rate.value);
    return body;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    outcome.replaceChildren(h("p", { class: "muted" }, "counting…"));
    try {
      // What was previewed is what starts: the form may change meanwhile.
      const previewed = request();
      const p = await api<Preview>("POST", "/api/replays", { ...previewed, dryRun: true });
      outcome.replaceChildren(
        previewOf(p, operator, async () => {
          const job = await api<Job>("POST", "/api/replays", { ...previewed, dryRun: false });
          outcome.replaceChildren(h("p", { class: "ok-text" }, `started ${job.job}`));
          void renderReplays(root, user);
        }),
      );
    } catch (err) {
      outcome.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(err)));
    }
  });
  show(
    root,
    h("h2", {}, "Replay events to a service"),
    h(
      "p",
      { class: "muted" },
      "The events go to the durable's replay channel: only that service's handlers see them, beside its live traffic.",
    ),
    targets.items.length === 0 ? h("p", { class: "empty" }, "no durable has a replay channel") : form,
    outcome,
    h("h3", {}, "Jobs"),
    table(
      ["Job", "To", "By", "Started", "State", "Progress", ""],
      jobs.items.map((j) => [
        h("code", {}, j.job),
        `${j.durable} (${j.stream})`,
        j.who ? (j.who.split(" ")[0] ?? j.who) : "–",
        when(j.startedAt),
        h(
          "span",
          {},
          badge(j.state, TONE[j.state]),
          j.error ? h("span", { class: "bad-text" }, ` ${j.error}`) : null,
        ),
        h(
          "span",
          { class: "progress" },
          h("progress", { max: String(j.total ?? 1), value: String(j.sent) }),
          ` ${j.sent}${j.total != null ? ` / ${j.total}` : ""}`,
          j.etaSeconds != null ? ` · ${Math.ceil(j.etaSeconds)} s left` : "",
          j.state === "elsewhere"
            ? h("span", { class: "muted" }, " · not on this replica: running there, or stopped")
            : "",
          j.deadLettered ? h("span", { class: "bad-text" }, ` · ${j.deadLettered} dead-lettered`) : "",
        ),
        !operator
          ? ""
          : j.state === "running" || j.state === "elsewhere"
            ? h("button", { class: "danger stop-replay", onclick: () => void stop(j.job, outcome) }, "Stop")
            : j.state === "stopped" && j.selection
              ? h(
                  "button",
                  {
                    class: "resume-replay",
                    onclick: () => void resume(j, outcome, () => void renderReplays(root, user)),
                  },
                  "Resume",
                )
              : "",
      ]),
      "no replay started from this console",
    ),
  );
  if (jobs.items.some((j) => j.state === "running"))
    refresh = window.setTimeout(() => {
      if (location.hash.startsWith("#replays") && !document.querySelector("dialog[open]"))
        void renderReplays(root, user);
    }, 1500);
}

function previewOf(p: Preview, operator: boolean, start: () => Promise<void>): HTMLElement {
  const go = h("button", { id: "replay-start" }, `Replay ${p.count} event(s)…`);
  go.addEventListener("click", () => {
    const dialog = h(
      "dialog",
      { id: "confirm" },
      h("h3", {}, `Replay ${p.count} event(s)?`),
      h(
        "p",
        {},
        `They go to ${p.channel}; the service handles them as replays, its live traffic first. Its position is saved: a stopped job can be started again.`,
      ),
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { value: "cancel" }, "Cancel"),
        h("button", { value: "confirm", id: "confirm-action" }, "Replay"),
      ),
    );
    document.body.appendChild(dialog);
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (dialog.returnValue === "confirm") void start();
    });
    dialog.showModal();
  });
  return h(
    "section",
    { class: "card", id: "replay-preview-result" },
    h("p", {}, h("strong", {}, `${p.count} event(s)`), " would be replayed (dry run: nothing sent)."),
    p.first
      ? h(
          "p",
          { class: "muted" },
          `first #${p.first.seq} ${when(p.first.storedAt)} ${p.first.type} ${p.first.key}`,
        )
      : null,
    p.last
      ? h(
          "p",
          { class: "muted" },
          `last #${p.last.seq} ${when(p.last.storedAt)} ${p.last.type} ${p.last.key}`,
        )
      : null,
    table(
      ["Seq", "Stored", "Type", "Key"],
      p.sample.map((r) => [String(r.seq), when(r.storedAt), r.type, r.key]),
      "nothing selected",
    ),
    p.count > 0 && operator
      ? go
      : h("p", { class: "muted" }, operator ? "" : "starting a replay needs the operator role"),
  );
}

/** Starts a stopped job again with its own selection: it goes on from its saved position. */
async function resume(j: Job, outcome: HTMLElement, done: () => void): Promise<void> {
  try {
    await api("POST", "/api/replays", {
      ...j.selection,
      stream: j.stream,
      durable: j.durable,
      job: j.job,
      dryRun: false,
    });
    outcome.replaceChildren(h("p", { class: "ok-text" }, `resumed ${j.job} from its saved position`));
    done();
  } catch (err) {
    outcome.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(err)));
  }
}

async function stop(job: string, outcome: HTMLElement): Promise<void> {
  try {
    await api("POST", `/api/replays/${encodeURIComponent(job)}/stop`);
    outcome.replaceChildren(h("p", { class: "warn-text" }, `stopping ${job}: its position is kept`));
  } catch (err) {
    outcome.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(err)));
  }
}
