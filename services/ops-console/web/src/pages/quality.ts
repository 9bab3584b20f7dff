/**
 * Quality: the holds with their evidence (why, what triggered them, how far they reach, the lots held
 * together, the deliveries they block), the deliveries the shipment gate watches, the charted
 * characteristics; one hold, with its decision behind a confirmation; a characteristic's control chart
 * drawn as SVG — the points, the centre line, the control limits and the specification limits, the
 * points of a violation in red, each point's value on hover.
 */
import { api, messageOf, query, type User } from "../api.js";
import { ago, badge, h, show, table, when } from "../dom.js";
import { s, tip } from "../svg.js";

interface Trigger {
  id: string;
  type: string;
  time: string;
  summary: string;
  characteristic: string | null;
}

interface Evidence {
  reason: string;
  scope: string | null;
  scopeOf: string | null;
  trigger: Trigger[];
  triggerMissing: string | null;
  lots: { holdId: string; product: string; lot: string; status: string }[];
  shipments: { pickingRef: string; customerRef: string; state: string }[];
}

interface Hold {
  holdId: string;
  site: string;
  lot: string;
  product: { code: string; name?: string | null };
  reason: string;
  triggeredBy: string | null;
  placedBy: string;
  placedAt: string;
  status: string;
  decision: { status: string; reason: string; by: string; at: string } | null;
  evidence?: Evidence;
}

interface Shipment {
  pickingRef: string;
  site: string;
  customerRef: string;
  lots: { product: string; lot: string }[];
  state: string;
  holds: string[];
  failure: string | null;
  wasBlocked: boolean;
  decidedAt: string | null;
}

interface Characteristic {
  id: string;
  source: "telemetry" | "inspection";
  equipment?: { site: string; line: string; machine: string };
  tag?: string;
  product?: string;
  characteristic?: string;
  limits: { center: number; lcl: number; ucl: number; source: string } | null;
  openEpisodes: { ruleId: string; startedAt: string }[];
}

const STATUS_TONE: Record<string, "ok" | "warn" | "bad" | "info" | "muted"> = {
  ACTIVE: "warn",
  RELEASED: "ok",
  REJECTED: "bad",
};
const GATE_TONE: Record<string, "ok" | "warn" | "bad" | "info" | "muted"> = {
  blocked: "bad",
  cleared: "ok",
  failclosed: "warn",
};
const GATE_LABEL: Record<string, string> = {
  blocked: "blocked",
  cleared: "cleared",
  failclosed: "blocked: gate failed closed",
};

const holdLink = (id: string) =>
  h("a", { href: `#quality/holds/${encodeURIComponent(id)}`, class: "hold-link" }, id);
const chartLink = (id: string) =>
  h("a", { href: `#quality/charts/${encodeURIComponent(id)}`, class: "chart-link" }, id);
const lotLink = (lot: string, product: string) =>
  h(
    "a",
    { href: `#genealogy/${encodeURIComponent(lot)}${query({ product })}`, class: "lot-link" },
    `${lot} (${product})`,
  );

/** The trigger chain, one line per event: an SPC violation links to its chart. */
function triggerLines(e: Evidence | undefined): HTMLElement {
  if (!e) return h("span", {}, "");
  if (e.trigger.length === 0)
    return h(
      "span",
      { class: "muted" },
      e.triggerMissing ? `event ${e.triggerMissing} (not found in MFG_QUALITY's window)` : "placed by hand",
    );
  return h(
    "ul",
    { class: "evidence" },
    e.trigger.map((t) =>
      h(
        "li",
        {},
        t.summary,
        t.characteristic ? h("span", {}, " · chart ", chartLink(t.characteristic)) : null,
        h("span", { class: "muted" }, ` · ${when(t.time)}`),
      ),
    ),
  );
}

export async function renderQuality(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const status = params.get("status") ?? "active";
  const [holds, shipments, characteristics] = await Promise.all([
    api<{ holds: Hold[] }>("GET", `/api/quality/holds${query({ status })}`),
    api<{ shipments: Shipment[]; blocked: number; cleared: number }>("GET", "/api/quality/shipments"),
    api<{ characteristics: Characteristic[] }>("GET", "/api/quality/characteristics"),
  ]);
  const select = h(
    "select",
    { id: "holds-status" },
    ["active", "released", "rejected", "all"].map((v) =>
      h("option", { value: v, selected: v === status }, v),
    ),
  );
  select.addEventListener("change", () => {
    location.hash = `#quality${query({ status: select.value === "active" ? undefined : select.value })}`;
  });
  show(
    root,
    h("h2", {}, "Quality holds"),
    h("label", { class: "inline" }, "show ", select, " holds"),
    h(
      "div",
      { id: "holds" },
      table(
        [
          "Hold",
          "Lot",
          "Status",
          "Reason and scope",
          "Triggered by",
          "Lots held together",
          "Blocks",
          "Placed",
        ],
        holds.holds.map((hold) => {
          const e = hold.evidence;
          return [
            holdLink(hold.holdId),
            lotLink(hold.lot, hold.product.code),
            badge(hold.status.toLowerCase(), STATUS_TONE[hold.status] ?? "muted"),
            h(
              "div",
              {},
              e?.scope ? hold.reason.slice(0, hold.reason.lastIndexOf(" — scope: ")) : hold.reason,
              e?.scope ? h("div", { class: "muted" }, `scope: ${e.scope}`) : null,
            ),
            triggerLines(e),
            e?.lots.length
              ? h(
                  "ul",
                  { class: "evidence" },
                  e.lots.map((l) =>
                    h("li", {}, holdLink(l.holdId), ` ${l.lot} (${l.product}) · ${l.status.toLowerCase()}`),
                  ),
                )
              : "",
            e?.shipments.length
              ? h(
                  "span",
                  {},
                  e.shipments.map((sh) =>
                    badge(
                      `${sh.pickingRef} ${GATE_LABEL[sh.state] ?? sh.state}`,
                      GATE_TONE[sh.state] ?? "muted",
                    ),
                  ),
                )
              : "",
            `${hold.placedBy}, ${ago(hold.placedAt)}`,
          ];
        }),
        status === "active" ? "no active hold: nothing is held back" : `no ${status} hold`,
      ),
    ),
    h(
      "h2",
      {},
      "Deliveries at the shipment gate ",
      badge(`${shipments.blocked} blocked`, shipments.blocked ? "bad" : "muted"),
      badge(`${shipments.cleared} cleared`, "ok"),
    ),
    h("div", { id: "shipments" }, shipmentTable(shipments.shipments)),
    h("h2", {}, "Control charts"),
    table(
      ["Characteristic", "Charts", "Limits", "Open episodes"],
      characteristics.characteristics.map((c) => [
        chartLink(c.id),
        c.source === "telemetry"
          ? `${c.tag} of ${c.equipment?.site}/${c.equipment?.line}/${c.equipment?.machine}`
          : `${c.characteristic} of ${c.product} (inspections)`,
        c.limits
          ? `${num(c.limits.lcl)} … ${num(c.limits.center)} … ${num(c.limits.ucl)} (${c.limits.source})`
          : "baseline filling",
        c.openEpisodes.length
          ? h(
              "span",
              {},
              c.openEpisodes.map((ep) => badge(`${ep.ruleId} since ${ago(ep.startedAt)}`, "bad")),
            )
          : badge("in control", "ok"),
      ]),
      "no characteristic is charted (the quality plan, QUALITY_CONFIG)",
    ),
  );
}

function shipmentTable(shipments: Shipment[]): HTMLElement {
  return table(
    ["Delivery", "Customer", "Lots", "Gate", "Held back by", "Decided"],
    shipments.map((sh) => [
      h("strong", {}, sh.pickingRef),
      sh.customerRef,
      h(
        "span",
        {},
        sh.lots.map((l, i) => h("span", {}, i > 0 ? ", " : "", lotLink(l.lot, l.product))),
      ),
      h(
        "span",
        { class: `gate gate-${sh.state}`, "data-picking": sh.pickingRef },
        badge(GATE_LABEL[sh.state] ?? sh.state, GATE_TONE[sh.state] ?? "muted"),
        sh.wasBlocked && sh.state === "cleared" ? h("span", { class: "muted" }, "was blocked") : null,
      ),
      sh.state === "failclosed"
        ? h("span", { class: "warn-text" }, sh.failure ?? "")
        : h(
            "span",
            {},
            sh.holds.map((id, i) => h("span", {}, i > 0 ? ", " : "", holdLink(id))),
          ),
      ago(sh.decidedAt),
    ]),
    "the gate watches no delivery",
  );
}

const DISPOSITIONS = [
  ["release", "Release: the lot is good"],
  ["scrap", "Scrap"],
  ["rework", "Rework"],
  ["return", "Return to the supplier"],
] as const;

export async function renderHold(root: HTMLElement, holdId: string, user: User): Promise<void> {
  const hold = await api<Hold>("GET", `/api/quality/holds/${encodeURIComponent(holdId)}`);
  const e = hold.evidence;
  const outcome = h("div", { id: "release-outcome", role: "status" });
  const mayDecide = user.roles.includes("quality");
  let decide: HTMLElement;
  if (hold.status === "ACTIVE") {
    const disposition = h(
      "select",
      { id: "release-disposition", name: "disposition" },
      DISPOSITIONS.map(([v, label]) => h("option", { value: v }, label)),
    );
    const comment = h("textarea", {
      id: "release-comment",
      name: "comment",
      rows: 3,
      cols: 60,
      minlength: 3,
      maxlength: 1800,
      required: true,
      placeholder: "why: the evidence that the lot is good, the NCR, the certificate…",
    });
    const form = h(
      "form",
      { class: "card", id: "release-form" },
      h("h3", {}, "Decide this hold"),
      h("label", {}, "Disposition", disposition),
      h("label", {}, "Comment (recorded with your name)", comment),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", id: "release" }, "Release…"),
        mayDecide ? null : h("span", { class: "muted" }, " (needs the quality role: the server will refuse)"),
      ),
    );
    disposition.addEventListener("change", () => {
      const button = form.querySelector("#release") as HTMLButtonElement;
      button.textContent = disposition.value === "release" ? "Release…" : `${cap(disposition.value)}…`;
      button.className = disposition.value === "release" ? "" : "danger";
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      confirmDecision(hold, disposition.value, comment.value.trim(), outcome);
    });
    decide = form;
  } else {
    decide = h(
      "dl",
      { class: "facts", id: "decision" },
      h("dt", {}, "Decision"),
      h("dd", {}, badge(hold.status.toLowerCase(), STATUS_TONE[hold.status] ?? "muted")),
      h("dt", {}, "Why"),
      h("dd", {}, hold.decision?.reason ?? "–"),
      h("dt", {}, "By"),
      h("dd", {}, `${hold.decision?.by ?? "–"}, ${when(hold.decision?.at)}`),
    );
  }
  show(
    root,
    h("p", {}, h("a", { href: "#quality" }, "← quality")),
    h(
      "h2",
      {},
      `Hold ${hold.holdId} `,
      badge(hold.status.toLowerCase(), STATUS_TONE[hold.status] ?? "muted"),
    ),
    h(
      "dl",
      { class: "facts", id: "hold-facts" },
      h("dt", {}, "Lot"),
      h("dd", {}, lotLink(hold.lot, hold.product.code), hold.product.name ? ` ${hold.product.name}` : ""),
      h("dt", {}, "Site"),
      h("dd", {}, hold.site),
      h("dt", {}, "Reason"),
      h("dd", { id: "hold-reason" }, hold.reason),
      h("dt", {}, "Scope"),
      h(
        "dd",
        {},
        e?.scope ?? "this lot only",
        e?.scopeOf ? h("span", {}, " · placed for ", holdLink(e.scopeOf)) : null,
      ),
      h("dt", {}, "Triggered by"),
      h("dd", { id: "hold-trigger" }, triggerLines(e)),
      h("dt", {}, "Placed"),
      h("dd", {}, `by ${hold.placedBy}, ${when(hold.placedAt)}`),
      h("dt", {}, "Lots held together"),
      h(
        "dd",
        {},
        e?.lots.length
          ? h(
              "ul",
              { class: "evidence" },
              e.lots.map((l) =>
                h(
                  "li",
                  {},
                  holdLink(l.holdId),
                  " ",
                  lotLink(l.lot, l.product),
                  ` · ${l.status.toLowerCase()}`,
                ),
              ),
            )
          : "none",
      ),
      h("dt", {}, "Deliveries held back"),
      h(
        "dd",
        { id: "hold-shipments" },
        e?.shipments.length
          ? e.shipments.map((sh) =>
              badge(
                `${sh.pickingRef} (${sh.customerRef}) ${GATE_LABEL[sh.state] ?? sh.state}`,
                GATE_TONE[sh.state] ?? "muted",
              ),
            )
          : "none",
      ),
    ),
    decide,
    outcome,
  );
}

const cap = (v: string) => v.charAt(0).toUpperCase() + v.slice(1);

/** Shows what the decision will do, and sends it only once confirmed. */
function confirmDecision(hold: Hold, disposition: string, comment: string, outcome: HTMLElement): void {
  outcome.replaceChildren();
  if (comment.length < 3) {
    outcome.replaceChildren(
      h("p", { class: "error", role: "alert" }, "say why in the comment, in at least 3 characters"),
    );
    return;
  }
  const blocked = hold.evidence?.shipments.filter((sh) => sh.state !== "cleared") ?? [];
  const dialog = h(
    "dialog",
    { id: "confirm" },
    h(
      "h3",
      {},
      disposition === "release" ? `Release lot ${hold.lot}?` : `Reject lot ${hold.lot} for ${disposition}?`,
    ),
    h(
      "p",
      {},
      disposition === "release"
        ? `Hold ${hold.holdId} ends: the lot may be used and shipped again${blocked.length ? `; the gate re-checks ${blocked.map((b) => b.pickingRef).join(", ")}` : ""}.`
        : `Hold ${hold.holdId} ends as rejected: the lot stays blocked for good (${disposition}).`,
    ),
    h("p", {}, "Comment: ", h("q", {}, comment)),
    h("p", { class: "muted" }, "A decision is final; it is recorded with your name and audited."),
    h(
      "form",
      { method: "dialog", class: "actions" },
      h("button", { value: "cancel" }, "Cancel"),
      h(
        "button",
        { value: "confirm", id: "confirm-action", class: disposition === "release" ? "" : "danger" },
        disposition === "release" ? "Release" : cap(disposition),
      ),
    ),
  );
  document.body.appendChild(dialog);
  dialog.addEventListener("close", async () => {
    dialog.remove();
    if (dialog.returnValue !== "confirm") return;
    outcome.replaceChildren(h("p", { class: "muted" }, "deciding…"));
    try {
      const r = await api<Hold>("POST", `/api/quality/holds/${encodeURIComponent(hold.holdId)}/decision`, {
        disposition,
        comment,
      });
      outcome.replaceChildren(
        h(
          "p",
          { class: r.status === "RELEASED" ? "ok-text" : "bad-text" },
          badge(r.status.toLowerCase(), STATUS_TONE[r.status] ?? "muted"),
          ` hold ${r.holdId}: ${r.decision?.reason ?? ""}`,
        ),
      );
      document.getElementById("release-form")?.remove();
    } catch (err) {
      outcome.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(err)));
    }
  });
  dialog.showModal();
}

// ---------------------------------------------------------------------------------------------------
// The control chart

interface Chart {
  characteristic: {
    id: string;
    source: string;
    name: string;
    tag: string | null;
    product: string | null;
    equipment: { site: string; line: string; machine: string } | null;
    subgroupSize: number;
  };
  limits: { center: number; lcl: number; ucl: number; source: string } | null;
  spec: { lower: number | null; upper: number | null; unit: string | null } | null;
  since: string;
  until: string;
  points: { time: string; value: number; inspectionId?: string; lot?: string; violations: string[] }[];
  pointsLeftOut: number;
  violations: {
    violationId: string;
    ruleId: string;
    description: string;
    startedAt: string;
    detectedAt: string;
    endedAt: string | null;
    lot: string | null;
  }[];
  scan: { read: number; undecodable: number; truncated: boolean };
}

export async function renderChart(root: HTMLElement, id: string, params: URLSearchParams): Promise<void> {
  const since = params.get("since") ?? "";
  const c = await api<Chart>(
    "GET",
    `/api/quality/charts/${encodeURIComponent(id)}${query({ since: since || undefined })}`,
  );
  const form = h(
    "form",
    { class: "filters", id: "chart-window" },
    h("label", {}, "since", h("input", { name: "since", value: since, placeholder: "24h, 3d or ISO time" })),
    h("button", { type: "submit" }, "Show"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = String(new FormData(form).get("since") ?? "").trim();
    location.hash = `#quality/charts/${encodeURIComponent(id)}${query({ since: value || undefined })}`;
  });
  const what =
    c.characteristic.source === "telemetry" && c.characteristic.equipment
      ? `${c.characteristic.tag} of ${c.characteristic.equipment.site}/${c.characteristic.equipment.line}/${c.characteristic.equipment.machine}`
      : `${c.characteristic.name} of ${c.characteristic.product} (inspections)`;
  show(
    root,
    h("p", {}, h("a", { href: "#quality" }, "← quality")),
    h("h2", {}, `Control chart ${c.characteristic.id}`),
    h(
      "p",
      { class: "muted", id: "chart-summary" },
      `${what}${c.characteristic.subgroupSize > 1 ? `, subgroups of ${c.characteristic.subgroupSize} (means)` : ""} · ${c.points.length} point(s) since ${when(c.since)}`,
      c.pointsLeftOut > 0 ? ` · the ${c.pointsLeftOut} oldest left out` : "",
      c.scan.truncated ? " · the window is too long to read whole: narrow it" : "",
      c.scan.undecodable > 0 ? ` · ${c.scan.undecodable} message(s) could not be read` : "",
    ),
    form,
    c.limits ? null : h("p", { class: "warn-text" }, "no control limits yet: the baseline is still filling"),
    c.points.length > 0
      ? drawChart(c)
      : h("p", { class: "empty", id: "spc-chart" }, "no point in the window"),
    h("h3", {}, "Violations"),
    table(
      ["Rule", "What", "Started", "Detected", "Ended", "Lot"],
      c.violations.map((v) => [
        badge(v.ruleId, v.endedAt ? "warn" : "bad"),
        v.description,
        when(v.startedAt),
        when(v.detectedAt),
        v.endedAt ? when(v.endedAt) : badge("open", "bad"),
        v.lot ?? "",
      ]),
      "no violation in the window",
    ),
  );
}

const num = (v: number) => String(Math.round(v * 1e4) / 1e4);

function drawChart(c: Chart): SVGSVGElement {
  const W = 960;
  const H = 340;
  const pad = { left: 64, right: 110, top: 16, bottom: 40 };
  const lines: { y: number; label: string; cls: string }[] = [];
  if (c.limits) {
    lines.push({ y: c.limits.ucl, label: `UCL ${num(c.limits.ucl)}`, cls: "limit" });
    lines.push({ y: c.limits.center, label: `CL ${num(c.limits.center)}`, cls: "centre" });
    lines.push({ y: c.limits.lcl, label: `LCL ${num(c.limits.lcl)}`, cls: "limit" });
  }
  if (c.spec?.upper !== null && c.spec?.upper !== undefined)
    lines.push({ y: c.spec.upper, label: `USL ${num(c.spec.upper)}`, cls: "spec" });
  if (c.spec?.lower !== null && c.spec?.lower !== undefined)
    lines.push({ y: c.spec.lower, label: `LSL ${num(c.spec.lower)}`, cls: "spec" });
  const values = [...c.points.map((p) => p.value), ...lines.map((l) => l.y)];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const margin = (hi - lo) * 0.08;
  lo -= margin;
  hi += margin;
  const n = c.points.length;
  const x = (i: number) => pad.left + (n === 1 ? 0.5 : i / (n - 1)) * (W - pad.left - pad.right);
  const y = (v: number) => pad.top + ((hi - v) / (hi - lo)) * (H - pad.top - pad.bottom);
  const unit = c.spec?.unit ? ` ${c.spec.unit}` : "";
  const svg = s("svg", {
    id: "spc-chart",
    class: "spc-chart",
    viewBox: `0 0 ${W} ${H}`,
    width: "100%",
    role: "img",
    "aria-label": `control chart of ${c.characteristic.id}`,
  });
  svg.appendChild(
    s("rect", {
      x: pad.left,
      y: pad.top,
      width: W - pad.left - pad.right,
      height: H - pad.top - pad.bottom,
      class: "plot",
    }),
  );
  for (const l of lines) {
    svg.appendChild(
      s("line", { x1: pad.left, x2: W - pad.right, y1: y(l.y), y2: y(l.y), class: `rule ${l.cls}` }),
    );
    svg.appendChild(s("text", { x: W - pad.right + 6, y: y(l.y) + 4, class: `label ${l.cls}` }, l.label));
  }
  // The value axis: the bottom and top of the plot.
  for (const v of [lo + margin, hi - margin])
    svg.appendChild(s("text", { x: pad.left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, num(v)));
  svg.appendChild(s("text", { x: pad.left, y: H - 12, class: "axis" }, when(c.points[0]?.time)));
  svg.appendChild(
    s(
      "text",
      { x: W - pad.right, y: H - 12, class: "axis", "text-anchor": "end" },
      when(c.points[n - 1]?.time),
    ),
  );
  svg.appendChild(
    s("polyline", { class: "series", points: c.points.map((p, i) => `${x(i)},${y(p.value)}`).join(" ") }),
  );
  c.points.forEach((p, i) => {
    const bad = p.violations.length > 0;
    svg.appendChild(
      s(
        "circle",
        {
          cx: x(i),
          cy: y(p.value),
          r: bad ? 4.5 : 3,
          class: bad ? "point violation" : "point",
          "data-value": p.value,
          "data-time": p.time,
        },
        tip(
          `${when(p.time)} · ${num(p.value)}${unit}${p.lot ? ` · lot ${p.lot}` : ""}${p.inspectionId ? ` · ${p.inspectionId}` : ""}${bad ? ` · violates ${p.violations.join(", ")}` : ""}`,
        ),
      ),
    );
  });
  return svg;
}
