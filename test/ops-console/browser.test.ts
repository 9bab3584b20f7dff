/**
 * The ops console's user journeys in a real browser (headless Chromium, playwright-core) against the
 * real console on a real nats-server, with the page the build made: a planner finds a stuck order and
 * sees why; an operator redrives a dead letter and sees it handled; a viewer is refused an operator's
 * action and nothing changes; a new order appears without reloading; a malformed filter and an expired
 * session get a clear message; a user signs in through a real OpenID provider, and one without a
 * mapped role is turned away with the reason.
 */
import assert from "node:assert/strict";
import { after, before, describe, type TestContext, test } from "node:test";
import type { Browser } from "playwright-core";
import type { EventInputs } from "../../contracts/src/index.js";
import { BUILT_PAGE, freePort, launchBrowser, openConsole, signInWithForm } from "./fixtures/browser.js";
import { type ConsoleFixture, PROBE_DURABLE, SITE, startConsoleFixture, USERS } from "./fixtures/console.js";
import { CLIENT_ID, CLIENT_SECRET, startOidcProvider } from "./fixtures/oidc-provider.js";

const LINE = "line1";
const released = (orderRef: string): EventInputs["mfg.production.production_order_released.v1"] => ({
  orderRef,
  odooOrderId: BigInt(orderRef.replace(/\D/g, "")),
  product: { code: "JAM-370", name: "Strawberry jam 370 g", odooId: 7n },
  quantity: { value: "1200", uom: "Units" },
  plannedStartAt: new Date(),
  plannedEndAt: null,
  equipment: { site: SITE, area: null, line: LINE, cell: null, machine: null },
  workCenterCode: "FILL-1",
  lotToProduce: `LOT-${orderRef.replace(/\W/g, "")}`,
  components: [],
  origin: null,
  materials: null,
  releasedAt: new Date(),
});

describe("the ops console in a browser", () => {
  let f: ConsoleFixture;
  let browser: Browser;
  const cleanups: (() => Promise<void>)[] = [];
  // The suite's resources live until its end (node:test's `after` inside `before` would end them at once).
  const suite = {
    after: (fn: () => Promise<void> | void) => void cleanups.push(async () => fn()),
  } as unknown as TestContext;
  before(async () => {
    f = await startConsoleFixture({ webDir: BUILT_PAGE }, suite);
    browser = await launchBrowser(suite);
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test("a planner finds a stuck order and sees why: what it waits for, the reason, and its dead letter", async () => {
    const order = "WH/MO/00777";
    await f.publish("mfg.production.production_order_released.v1", released(order), {
      line: LINE,
      key: order,
    });
    await f.publish(
      "mfg.production.order_step_changed.v1",
      {
        orderRef: order,
        odooOrderId: 777n,
        equipment: { site: SITE, area: null, line: LINE, cell: null, machine: null },
        step: "MATERIAL_CHECK",
        previousStep: "RELEASED",
        waitingFor: "MATERIAL",
        reason: "COMP-WRP short by 800 Units: not reserved in Odoo",
        lot: null,
        causeEventId: null,
        changedAt: new Date(),
      },
      { line: LINE, key: order },
    );
    await f.deadLetter(order, {
      code: "CONNECTOR_ORDER_NOT_FOUND",
      message: `Odoo has no manufacturing order ${order}`,
    });
    const { page, errors } = await openConsole(browser, f.url);
    await signInWithForm(page, "viola", USERS.viola.password);
    await page.click("nav a[data-page=orders]");
    await page.check("#stuck-only");
    await page.waitForURL(/#orders\?stuck=true$/);
    await page.click(`a.order-link:text-is("${order}")`);
    await page.waitForSelector("#timeline");
    assert.equal(await page.textContent("#order-waiting"), "MATERIAL");
    assert.equal(
      await page.textContent("#order-reason"),
      "COMP-WRP short by 800 Units: not reserved in Odoo",
    );
    const letters = await page.textContent("#order-dead-letters");
    assert.match(letters ?? "", /CONNECTOR_ORDER_NOT_FOUND/);
    assert.match(letters ?? "", new RegExp(`Odoo has no manufacturing order ${order}`));
    assert.deepEqual(errors, []);
  });

  test("an operator redrives a dead letter after a preview, and sees it handled and gone", async () => {
    const order = "WH/MO/00778";
    const seq = await f.deadLetter(order, {
      code: "CONNECTOR_PRODUCT_NOT_FOUND",
      message: "product JAM-999 unknown",
    });
    f.heal(order); // the master data was fixed
    const { page, errors } = await openConsole(browser, `${f.url}/#dead-letters`);
    await signInWithForm(page, "otto", USERS.otto.password);
    await page.fill("#dlq-filter input[name=code]", "CONNECTOR_PRODUCT_NOT_FOUND");
    await page.click("#dlq-filter button[type=submit]");
    await page.click(`a.dlq-link:text-is("${seq}")`);
    assert.match(
      (await page.textContent("#dlq-reason")) ?? "",
      /CONNECTOR_PRODUCT_NOT_FOUND product JAM-999 unknown/,
    );
    await page.click("#redrive");
    const preview = await page.waitForSelector("dialog#confirm");
    assert.match(
      (await preview.textContent()) ?? "",
      new RegExp(`goes back to ${PROBE_DURABLE}, only that consumer`),
    );
    await page.click("#confirm-action");
    await page.waitForSelector("#dlq-outcome .badge:text-is('handled')", { timeout: 30_000 });
    assert.equal(await f.inDlq(seq), false, "the dead letter left MFG_DLQ");
    assert.ok(f.handled.some((h) => h.orderRef === order && h.delivery === "redrive"));
    assert.deepEqual(errors, []);
  });

  test("a viewer is refused an operator's action: the reason is shown, the dead letter stays", async () => {
    const seq = await f.deadLetter("WH/MO/00779");
    const { page } = await openConsole(browser, `${f.url}/#dead-letters/${seq}`);
    await signInWithForm(page, "viola", USERS.viola.password);
    await page.waitForSelector("#dlq-reason");
    await page.click("#purge");
    const refusal = await page.waitForSelector("#dlq-outcome [role=alert]");
    assert.match(
      (await refusal.textContent()) ?? "",
      /purge needs the operator role; viola has viewer \(CONSOLE_FORBIDDEN\)/,
    );
    assert.equal(await page.$("dialog#confirm"), null, "no confirmation is offered");
    assert.equal(await f.inDlq(seq), true);
  });

  test("a new order shows up on the open orders page without reloading", async () => {
    const { page } = await openConsole(browser, `${f.url}/#orders`);
    await signInWithForm(page, "viola", USERS.viola.password);
    await page.waitForSelector("#live.on");
    const order = "WH/MO/00901";
    assert.equal(await page.$(`a.order-link:text-is("${order}")`), null);
    await f.publish("mfg.production.production_order_released.v1", released(order), {
      line: LINE,
      key: order,
    });
    await page.waitForSelector(`a.order-link:text-is("${order}")`, { timeout: 15_000 });
  });

  test("bad input and an ended session get a clear message and change nothing", async () => {
    const { page } = await openConsole(browser, `${f.url}/#dead-letters`);
    await signInWithForm(page, "otto", USERS.otto.password);
    await page.fill("#dlq-filter input[name=type]", "not-a-type");
    await page.click("#dlq-filter button[type=submit]");
    const error = await page.waitForSelector("#page-error");
    assert.match(
      (await error.textContent()) ?? "",
      /type.*not-a-type.*is not an event type.*CONSOLE_REQUEST_INVALID/,
    );
    // Signed out elsewhere (another tab): the next page load asks to sign in again.
    const cookie = (await page.context().cookies()).find((c) => c.name === "tl_session");
    assert.ok(cookie, "the session cookie is set");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Lax");
    await page.evaluate(async () => {
      const s = (await (await fetch("/api/session")).json()) as { csrf: string };
      await fetch("/auth/logout", { method: "POST", headers: { "x-csrf-token": s.csrf } });
    });
    await page.click("nav a[data-page=plants]");
    await page.waitForSelector("#sign-in-form");
  });
});

describe("signing in through an OpenID provider, in a browser", () => {
  test("a mapped user comes back signed in with the mapped roles; an unmapped one is told why", async (t) => {
    const port = await freePort();
    const consoleUrl = `http://127.0.0.1:${port}`;
    const provider = await startOidcProvider({
      redirectUris: [`${consoleUrl}/auth/callback`],
      postLogoutRedirectUris: [`${consoleUrl}/`],
      accounts: {
        olga: { sub: "u-olga", password: "olga-pw", groups: ["plant-ops"], preferred_username: "olga" },
        ned: { sub: "u-ned", password: "ned-pw", groups: ["canteen"], preferred_username: "ned" },
      },
    });
    t.after(() => provider.stop());
    const g = await startConsoleFixture(
      {
        webDir: BUILT_PAGE,
        env: {
          HTTP_PORT: String(port),
          OIDC_ISSUER: provider.issuer,
          OIDC_CLIENT_ID: CLIENT_ID,
          OIDC_CLIENT_SECRET: CLIENT_SECRET,
          OIDC_ROLE_MAP: JSON.stringify({ "plant-ops": ["operator"] }),
          OIDC_ALLOW_HTTP: "true",
        },
      },
      t,
    );
    assert.equal(g.url, consoleUrl);
    const browser = await launchBrowser(t);
    const { page, errors } = await openConsole(browser, `${consoleUrl}/#orders`);
    await page.click("#sign-in-oidc");
    await page.waitForURL(new RegExp(`^${provider.issuer}`));
    await page.fill("input[name=login]", "olga");
    await page.fill("input[name=password]", "olga-pw");
    await page.click("#sign-in");
    await page.waitForSelector("#user");
    assert.equal(await page.textContent("#user"), "olga · viewer, operator");
    assert.match(page.url(), /#orders$/, "back where the sign-in started");
    assert.deepEqual(errors, []);
    const other = await openConsole(browser, consoleUrl);
    await other.page.click("#sign-in-oidc");
    await other.page.fill("input[name=login]", "ned");
    await other.page.fill("input[name=password]", "ned-pw");
    await other.page.click("#sign-in");
    const refusal = await other.page.waitForSelector("#sign-in-error:not(:empty)");
    assert.match(
      (await refusal.textContent()) ?? "",
      /Your account has no role in this console \(CONSOLE_NO_ROLE\)/,
    );
    assert.doesNotMatch(other.page.url(), /canteen/, "the groups are not in the address");
  });
});
