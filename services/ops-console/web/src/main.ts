/**
 * The console page: signs in, then shows the page the address names (`#plants`, `#orders`,
 * `#orders/<ref>`, `#dead-letters`, `#dead-letters/<seq>`, `#quality`, `#quality/holds/<id>`,
 * `#quality/charts/<characteristic>`, `#genealogy`, `#genealogy/<lot>`, `#replays`, `#health`, `#audit`) and keeps it
 * current: the server pushes a line for every event the streams store, and the page reloads what it
 * shows when one concerns it (at most every two seconds).
 */
import { ApiError, api, setCsrf, type User, whenSignedOut } from "./api.js";
import { h, show } from "./dom.js";
import { renderAudit } from "./pages/audit.js";
import { renderDeadLetter, renderDeadLetters } from "./pages/dead-letters.js";
import { renderGenealogy } from "./pages/genealogy.js";
import { renderHealth } from "./pages/health.js";
import { renderOrders } from "./pages/orders.js";
import { renderPlants } from "./pages/plants.js";
import { renderChart, renderHold, renderQuality } from "./pages/quality.js";
import { renderReplays } from "./pages/replays.js";
import { renderSignIn } from "./pages/sign-in.js";
import { renderTimeline } from "./pages/timeline.js";

const root = document.getElementById("app")!;
let user: User | undefined;
let live: EventSource | undefined;

const NAV = [
  ["#plants", "Plants"],
  ["#orders", "Orders"],
  ["#dead-letters", "Dead letters"],
  ["#quality", "Quality"],
  ["#genealogy", "Genealogy"],
  ["#replays", "Replays"],
  ["#health", "Health"],
  ["#audit", "Audit"],
] as const;

interface Route {
  readonly render: (main: HTMLElement) => Promise<void>;
  /** Whether a stored event concerns what the page shows. */
  readonly concerns: (e: { stream: string; key: string | null }) => boolean;
}

function route(): Route {
  const [path = "", q = ""] = location.hash.slice(1).split("?");
  const params = new URLSearchParams(q);
  const [page, arg] = path.split("/").map(decodeURIComponent);
  switch (page) {
    case "orders":
      return arg
        ? // Its own events and dead letters (those of its lots show on the next visit or reload).
          { render: (m) => renderTimeline(m, arg), concerns: (e) => e.key === arg || e.stream === "MFG_DLQ" }
        : {
            render: (m) => renderOrders(m, params),
            concerns: (e) => e.stream === "MFG_PRODUCTION" || e.stream === "MFG_DLQ",
          };
    case "dead-letters":
      return arg
        ? { render: (m) => renderDeadLetter(m, Number(arg), user!), concerns: () => false }
        : { render: (m) => renderDeadLetters(m, params), concerns: (e) => e.stream === "MFG_DLQ" };
    case "quality": {
      // #quality/holds/<id>, #quality/charts/<characteristic>
      const id = path.split("/").map(decodeURIComponent)[2];
      if (arg === "holds" && id)
        // Not reloaded by live updates: it would wipe a comment being written.
        return { render: (m) => renderHold(m, id, user!), concerns: () => false };
      if (arg === "charts" && id)
        return { render: (m) => renderChart(m, id, params), concerns: (e) => e.stream === "MFG_QUALITY" };
      return {
        render: (m) => renderQuality(m, params),
        concerns: (e) => e.stream === "MFG_QUALITY" || e.stream === "MFG_SHIPPING",
      };
    }
    case "genealogy":
      // Not reloaded by live updates: it would fold the levels opened.
      return { render: (m) => renderGenealogy(m, arg || undefined, params), concerns: () => false };
    case "health":
      return { render: (m) => renderHealth(m, params), concerns: (e) => e.stream === "MFG_DLQ" };
    case "replays":
      // Refreshes itself while a job runs; a live reload would drop a preview being read.
      return { render: (m) => renderReplays(m, user!), concerns: () => false };
    case "audit":
      return { render: renderAudit, concerns: () => false };
    default:
      return { render: renderPlants, concerns: (e) => e.stream === "MFG_MACHINE" };
  }
}

async function start(): Promise<void> {
  try {
    const session = await api<{ user: User; csrf: string }>("GET", "/api/session");
    user = session.user;
    setCsrf(session.csrf);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return void renderSignIn(root, () => void start());
    show(
      root,
      h("p", { class: "error", role: "alert" }, `The console cannot be reached: ${(err as Error).message}`),
    );
    return;
  }
  if (!location.hash) history.replaceState(null, "", "#plants");
  shell();
}

function shell(): void {
  const main = h("main", { id: "page" });
  const dot = h("span", { class: "live off", id: "live", title: "live updates" }, "live");
  const nav = h(
    "nav",
    {},
    NAV.map(([href, label]) => h("a", { href, "data-page": href.slice(1) }, label)),
  );
  const signOut = h("button", { id: "sign-out", class: "link" }, "Sign out");
  signOut.addEventListener("click", async () => {
    const r = await api<{ endSession?: string }>("POST", "/auth/logout").catch(
      () => ({}) as { endSession?: string },
    );
    live?.close();
    if (r.endSession) location.assign(r.endSession);
    else location.reload();
  });
  show(
    root,
    h(
      "header",
      {},
      h("strong", { class: "brand" }, "Threadline"),
      nav,
      dot,
      h("span", { class: "user", id: "user" }, `${user!.name} · ${user!.roles.join(", ")}`),
      signOut,
    ),
    main,
  );
  let current = route();
  let busy = false;
  let lastRenderMs = 0;
  let again = false;
  const render = async () => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    for (const a of nav.querySelectorAll("a"))
      a.classList.toggle("active", location.hash.slice(1).startsWith(a.dataset["page"] ?? "?"));
    const started = performance.now();
    try {
      await current.render(main);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401))
        show(
          main,
          h(
            "p",
            { class: "error", role: "alert", id: "page-error" },
            err instanceof ApiError ? `${err.message} (${err.code})` : String(err),
          ),
        );
    } finally {
      lastRenderMs = performance.now() - started;
      busy = false;
      if (again) {
        again = false;
        void render();
      }
    }
  };
  window.onhashchange = () => {
    current = route();
    void render();
  };
  void render();
  // Live updates: a stored event that concerns the page reloads it, at most every two seconds.
  let pending: number | undefined;
  live?.close();
  live = new EventSource("/api/live");
  live.onopen = () => dot.classList.replace("off", "on");
  live.onerror = () => dot.classList.replace("on", "off");
  live.addEventListener("stored", (ev) => {
    const e = JSON.parse((ev as MessageEvent<string>).data) as { stream: string; key: string | null };
    if (!current.concerns(e) || pending !== undefined) return;
    // At most every 2 s, and never more than half the time: a page slow to read is not re-read back to back.
    pending = window.setTimeout(
      () => {
        pending = undefined;
        if (!document.querySelector("dialog[open]")) void render();
      },
      Math.max(2000, 2 * lastRenderMs),
    );
  });
  live.addEventListener("signed-out", () => {
    live?.close();
    void start();
  });
}

whenSignedOut(() => {
  live?.close();
  void renderSignIn(root, () => void start());
});
void start();
