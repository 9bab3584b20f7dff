/**
 * The ops console's quality and genealogy journeys in a real browser (headless Chromium, playwright-core)
 * with the page the build made, against the real quality service and the genealogy's real routes over
 * the story (harness/quality.ts: powder RAW-1 LOT/2026/001 → compact INT-1 INT-001 → disc FG-1 FG-001),
 * the console beside them on the same nats-server: a quality engineer releases a hold with a comment and
 * sees the delivery it blocked clear; an operator is refused the release and the hold stays; a lot's
 * trace opens level by level down to the powder, whose recall report names the disc lot; an unknown lot
 * gets a clear message.
 */
import assert from "node:assert/strict";
import { after, before, describe, type TestContext, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { listAudit } from "../../streams/src/index.js";
import { storedEvents } from "../harness/events.js";
import { TOKEN as GENEALOGY_TOKEN, LOTS } from "../harness/genealogy.js";
import {
  USERS as QUALITY_USERS,
  type QualityFixture,
  SITE,
  shipmentRequested,
  startQualityFixture,
} from "../harness/quality.js";
import { until } from "../harness/wait.js";
import { BUILT_PAGE, launchBrowser, openConsole, signInWithForm } from "./fixtures/browser.js";
import { type ConsoleFixture, startConsoleFixture, USERS } from "./fixtures/console.js";

/** The text the user sees in the first element the selector names, once it is there (cells apart). */
async function textOf(page: Page, selector: string, timeout = 10_000): Promise<string> {
  const el = await page.waitForSelector(selector, { timeout });
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's handle; the rendered text is the point
  return (await el.innerText()).replace(/\s+/g, " ").trim();
}

/** The console's page in a fresh profile; a step that does not happen fails in 10 s, not 30. */
async function open(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const opened = await openConsole(browser, url);
  opened.page.setDefaultTimeout(10_000);
  return opened;
}

/** The gate's ShipmentCleared events of a delivery, in stream order. */
async function clearedEvents(q: QualityFixture, pickingRef: string) {
  return (await storedEvents(q.nc, "mfg.shipping.shipment_cleared.v1", SITE)).filter(
    (e) => e.value.pickingRef === pickingRef,
  );
}

/** Places a hold on `lot` by hand, as a quality user would at the quality service; its id. */
async function holdByHand(q: QualityFixture, lot: string, reason: string): Promise<string> {
  const placed = await q.api("POST", "/quality/holds", "alice", {
    site: SITE,
    lot,
    product: "FG-1",
    reason,
    scope: { forward: false, backward: false },
  });
  assert.equal(placed.status, 201, JSON.stringify(placed.body));
  return placed.body.holds[0].holdId as string;
}

describe("the ops console's quality and genealogy pages in a browser", () => {
  let q: QualityFixture;
  let f: ConsoleFixture;
  let browser: Browser;
  /** The hold quinn releases (it blocks WH/OUT/00101), and the one otto is refused. */
  let blockingHold = "";
  let otherHold = "";
  const BLOCKED = "WH/OUT/00101";
  const cleanups: (() => Promise<void>)[] = [];
  // The suite's resources live until its end (node:test's `after` inside `before` would end them at once).
  const suite = {
    after: (fn: () => Promise<void> | void) => void cleanups.push(async () => fn()),
  } as unknown as TestContext;

  before(async () => {
    q = await startQualityFixture(suite);
    f = await startConsoleFixture(
      {
        webDir: BUILT_PAGE,
        server: q.server,
        env: {
          SITE,
          QUALITY_URL: q.service().url,
          // alice's token: read, hold and release at the quality service.
          QUALITY_API_TOKEN: QUALITY_USERS.alice.token,
          GENEALOGY_URL: q.env["GENEALOGY_URL"] as string,
          GENEALOGY_API_TOKEN: GENEALOGY_TOKEN,
          UPSTREAM_TIMEOUT_MS: "3000",
        },
      },
      suite,
    );
    browser = await launchBrowser(suite);
    // Discs of FG-900 on a delivery: cleared, then held by hand, so the gate blocks the delivery.
    await q.publish("mfg.shipping.shipment_requested.v1", shipmentRequested(BLOCKED, 101n, "FG-900"), {
      key: BLOCKED,
    });
    await until(`${BLOCKED} cleared`, async () =>
      (await clearedEvents(q, BLOCKED)).length === 1 ? true : undefined,
    );
    blockingHold = await holdByHand(q, "FG-900", "burr on the bore, seen at the packing station");
    otherHold = await holdByHand(q, "FG-901", "wrong chamfer on 3 discs of 10");
    await until(`${BLOCKED} blocked`, async () =>
      (await storedEvents(q.nc, "mfg.shipping.shipment_blocked.v1", SITE)).some(
        (e) => e.value.pickingRef === BLOCKED,
      )
        ? true
        : undefined,
    );
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test("a quality engineer releases a hold with a comment and sees the blocked shipment clear", async () => {
    const { page, errors } = await open(browser, `${f.url}/#quality`);
    await signInWithForm(page, "quinn", USERS.quinn.password);
    assert.equal(await page.textContent("#user"), "quinn · viewer, quality");
    // The hold and the delivery it blocks.
    const row = await textOf(page, `#holds tr:has(a.hold-link:text-is("${blockingHold}"))`);
    assert.match(row, /FG-900 \(FG-1\)/);
    assert.match(row, /active/);
    assert.match(row, /burr on the bore, seen at the packing station/);
    assert.match(row, new RegExp(`${BLOCKED} blocked`));
    assert.equal(await textOf(page, `#shipments .gate-blocked[data-picking="${BLOCKED}"]`), "blocked");
    assert.match(
      await textOf(page, `#shipments tr:has([data-picking="${BLOCKED}"])`),
      new RegExp(blockingHold),
    );

    // The hold, its comment, the confirmation.
    await page.click(`#holds a.hold-link:text-is("${blockingHold}")`);
    await page.waitForURL(new RegExp(`#quality/holds/${blockingHold}$`));
    assert.match(await textOf(page, "#hold-shipments"), new RegExp(`${BLOCKED} \\(C-100\\) blocked`));
    await page.fill("#release-comment", "burr removed on all 10 discs, checked by QA");
    await page.click("#release");
    const dialog = await textOf(page, "dialog#confirm[open]");
    assert.match(dialog, /Release lot FG-900\?/);
    assert.match(dialog, new RegExp(`the gate re-checks ${BLOCKED}`));
    assert.match(dialog, /burr removed on all 10 discs, checked by QA/);
    await page.click("#confirm-action");
    const outcome = await textOf(page, "#release-outcome .ok-text");
    assert.match(
      outcome,
      new RegExp(`^released hold ${blockingHold}: \\[quinn via ops-console\\] burr removed on all 10 discs`),
    );
    assert.equal(await page.$("#release-form"), null, "the decision is made: no form any more");

    // Back on Quality: the delivery is cleared (the gate's event reloads the page, or it is cleared already).
    await page.click("a[href='#quality']:text('← quality')");
    await page.waitForSelector(`#shipments .gate-cleared[data-picking="${BLOCKED}"]`, { timeout: 15_000 });
    const gate = `#shipments .gate-cleared[data-picking="${BLOCKED}"]`;
    assert.equal(await textOf(page, `${gate} .badge`), "cleared");
    assert.equal(await textOf(page, `${gate} .muted`), "was blocked");
    assert.equal(await page.$(`#holds a.hold-link:text-is("${blockingHold}")`), null, "no longer active");

    // What changed in the services: the hold, the gate's event, the audit trail.
    const hold = await q.api("GET", `/quality/holds/${blockingHold}`, "viewer");
    assert.equal(hold.body.status, "RELEASED", JSON.stringify(hold.body));
    const cleared = await clearedEvents(q, BLOCKED);
    assert.equal(cleared.length, 2, "cleared when requested, and again after the release");
    assert.equal(cleared[1]?.value.wasBlocked, true);
    const done = (await listAudit(f.nc, { action: "hold-decision" })).filter((r) => r.outcome === "done");
    assert.equal(done.length, 1);
    assert.match(done[0]?.who ?? "", /^quinn \[local:quinn\] via ops-console@/);
    assert.equal(done[0]?.selection["holdId"], blockingHold);
    assert.equal(done[0]?.details["disposition"], "release");
    assert.deepEqual(errors, []);
  });

  test("an operator is refused a release: the reason is shown and the hold stays active", async () => {
    const { page, errors } = await open(browser, `${f.url}/#quality/holds/${otherHold}`);
    await signInWithForm(page, "otto", USERS.otto.password);
    assert.match(await textOf(page, "#release-form"), /needs the quality role: the server will refuse/);
    await page.fill("#release-comment", "looks fine to me");
    await page.click("#release");
    await page.waitForSelector("dialog#confirm[open]");
    await page.click("#confirm-action");
    const refusal = await textOf(page, "#release-outcome [role=alert]");
    assert.match(
      refusal,
      /decideHold needs the quality role; otto has viewer, operator \(CONSOLE_FORBIDDEN\)/,
    );
    assert.ok(await page.$("#release-form"), "the form stays: nothing was decided");
    const hold = await q.api("GET", `/quality/holds/${otherHold}`, "viewer");
    assert.equal(hold.body.status, "ACTIVE", JSON.stringify(hold.body));
    const released = await storedEvents(q.nc, "mfg.quality.quality_hold_released.v1", SITE);
    assert.ok(!released.some((e) => e.value.holdId === otherHold), "no release event for it");
    const refused = (await listAudit(f.nc, { action: "hold-decision" })).filter(
      (r) => r.outcome === "refused",
    );
    assert.deepEqual(
      refused.map((r) => [r.who.split(" ")[0], r.selection["request"], r.selection["params"]]),
      [["otto", "POST /api/quality/holds/:holdId/decision", { holdId: otherHold }]],
    );
    assert.deepEqual(errors, []);
  });

  test("expand a genealogy graph: level by level down to the powder, whose recall names the disc lot", async () => {
    const { page, errors } = await open(browser, `${f.url}/#genealogy`);
    await signInWithForm(page, "viola", USERS.viola.password);
    await page.fill("#lot-input", LOTS.finished.lot);
    await page.click("#lot-search button[type=submit]");
    await page.waitForSelector("#genealogy-graph");
    assert.match(await textOf(page, "#page h2"), /^Lot FG-001 \(FG-1\)$/);
    const graph = "#genealogy-graph";
    const lots = async () =>
      Promise.all((await page.$$(`${graph} li.node`)).map((li) => li.getAttribute("data-lot")));
    assert.deepEqual(await lots(), ["FG-001", "INT-001"], "the first level");
    assert.equal(await page.$(`${graph} button.expand[aria-label="expand FG-001"]`), null);
    await page.click(`${graph} button.expand[aria-label="expand ${LOTS.intermediate.lot}"]`);
    await page.waitForSelector(`${graph} li.node[data-lot="${LOTS.raw.lot}"]`);
    assert.deepEqual(await lots(), ["FG-001", "INT-001", "LOT/2026/001"], "the next level, in place");
    assert.match(
      await textOf(page, `${graph} li.node[data-lot="${LOTS.raw.lot}"] > .node-line`),
      /LOT\/2026\/001 RAW-1 Steel powder .*supplier lot SUP-77/,
    );
    // The powder lot's page: its recall report names the disc lot made of it, and the customer.
    await page.click(`${graph} li.node[data-lot="${LOTS.raw.lot}"] > .node-line a`);
    await page.waitForSelector("#page h2:text-is('Lot LOT/2026/001 (RAW-1)')");
    assert.match(await textOf(page, "#recall-summary"), /^3 lot\(s\) affected, 1 customer\(s\) to contact/);
    assert.equal(
      await textOf(page, "#recall h3:text-is('Lots on hold already') + table tbody"),
      "FG-001 FG-1 HOLD-1 (bore diameter out of spec)",
      "the disc lot made of the powder is in the report",
    );
    assert.equal(
      await textOf(page, "#recall h3:text-is('Customers to contact') + table tbody"),
      "Acme Brakes (C-100) 24 kg WH/OUT/00001",
    );
    assert.deepEqual(errors, []);
  });

  test("an unknown lot gets a clear message, and the page goes on working", async () => {
    const { page, errors } = await open(browser, `${f.url}/#genealogy`);
    await signInWithForm(page, "viola", USERS.viola.password);
    await page.fill("#lot-input", "NOPE-404");
    await page.click("#lot-search button[type=submit]");
    assert.match(
      await textOf(page, "#page-error"),
      /no lot "NOPE-404" in the genealogy.*\(CONSOLE_NOT_FOUND\)/,
    );
    assert.equal(await page.$("#genealogy-graph"), null);
    // Nothing else broke: the next search works.
    await page.click("nav a[data-page=genealogy]");
    await page.fill("#lot-input", LOTS.finished.lot);
    await page.click("#lot-search button[type=submit]");
    await page.waitForSelector(`#genealogy-graph li.node[data-lot="${LOTS.finished.lot}"]`);
    assert.deepEqual(errors, []);
  });
});
