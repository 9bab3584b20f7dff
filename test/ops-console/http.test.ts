/**
 * Ops console - what a user gets over HTTP (services/ops-console/src), against one console on a real
 * nats-server with the platform's declarations (fixtures/console.ts): local sign-in and its throttle,
 * sessions (signed out, expired), security headers, CSRF, roles (a refusal changes nothing and is
 * audited), dead letters (list, filters, show, purge, redrive through a running consumer), orders and
 * their timelines, plants, the live feed, and body validation. The tests share the console; each works
 * on orders and dead letters of its own.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Kvm } from "@nats-io/kv";
import { CONSOLE_ROUTES } from "../../services/ops-console/src/manifest.js";
import type { Identity } from "../../services/ops-console/src/roles.js";
import { SESSIONS_BUCKET, SessionStore } from "../../services/ops-console/src/sessions.js";
import { listAudit } from "../../streams/src/index.js";
import {
  type ConsoleResponse,
  PAGE,
  PROBE_DURABLE,
  productionReport,
  SESSION_COOKIE,
  SITE,
  startConsoleFixture,
  USERS,
} from "./fixtures/console.js";

const f = await startConsoleFixture();

/** The answer is an error of that status and code whose message matches every pattern. */
function refused(res: ConsoleResponse, status: number, code: string, ...patterns: RegExp[]): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body?.error?.code, code, res.text);
  for (const pattern of patterns) assert.match(res.body.error.message, pattern);
}

function ok(res: ConsoleResponse): ConsoleResponse {
  assert.equal(res.status, 200, res.text);
  return res;
}

describe("signing in with a local account", () => {
  it("a local account signs in: 200, an HttpOnly SameSite=Lax session cookie on Path=/, and /api/session names the user, the viewer role and the CSRF token", async () => {
    const res = ok(await f.client().post("/auth/local", { name: "otto", password: USERS.otto.password }));
    const cookies = res.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    assert.ok(session, `a ${SESSION_COOKIE} cookie: ${cookies.join(" | ")}`);
    const attributes = session.split(";").map((a) => a.trim().toLowerCase());
    assert.ok(attributes.includes("httponly"), session);
    assert.ok(attributes.includes("samesite=lax"), session);
    assert.ok(attributes.includes("path=/"), session);
    assert.ok(attributes.includes("max-age=43200"), `lasts the session's 12 h: ${session}`);
    assert.ok(
      !attributes.includes("secure"),
      "plain http on loopback: no Secure (the browser would drop it)",
    );
    assert.equal(res.body.user.name, "otto");
    assert.match(res.body.csrf, /^[A-Za-z0-9_-]{40,}$/);

    const token = session.slice(SESSION_COOKIE.length + 1).split(";")[0] ?? "";
    const me = ok(await f.client({ token }).get("/api/session"));
    assert.deepEqual(me.body.user, { name: "otto", roles: ["viewer", "operator"], via: "local" });
    assert.equal(me.body.csrf, res.body.csrf, "the page gets the CSRF token of its session");
    assert.ok(Date.parse(me.body.expiresAt) > Date.now() + 11 * 3_600_000);

    const viola = await f.signIn("viola");
    assert.deepEqual(ok(await viola.get("/api/session")).body.user.roles, ["viewer"]);
  });

  it("a wrong password is 401 CONSOLE_SIGN_IN_FAILED and sets no cookie; an unknown name answers the same", async () => {
    const wrong = await f.client().post("/auth/local", { name: "viola", password: "not-her-password" });
    refused(wrong, 401, "CONSOLE_SIGN_IN_FAILED", /wrong name or password/);
    assert.deepEqual(wrong.headers.getSetCookie(), []);
    const unknown = await f.client().post("/auth/local", { name: "nobody", password: USERS.viola.password });
    refused(unknown, 401, "CONSOLE_SIGN_IN_FAILED", /wrong name or password/);
    assert.deepEqual(unknown.headers.getSetCookie(), []);
  });

  it("a sign-in posted from another site (foreign Origin, or Sec-Fetch-Site cross-site) is 403 CONSOLE_CSRF_REJECTED and sets no cookie", async () => {
    const body = { name: "viola", password: USERS.viola.password };
    const foreign = await f.client().post("/auth/local", body, { origin: "https://evil.example" });
    refused(foreign, 403, "CONSOLE_CSRF_REJECTED");
    assert.deepEqual(foreign.headers.getSetCookie(), []);
    const crossSite = await f
      .client()
      .post("/auth/local", body, { headers: { "sec-fetch-site": "cross-site" } });
    refused(crossSite, 403, "CONSOLE_CSRF_REJECTED");
  });

  it("the 6th failed sign-in in a row for one name is 429 with Retry-After, and the right password is refused too until then; other names are not held", async () => {
    // quinn is held for 5 minutes after this test: no other test signs quinn in.
    const attempt = (password: string) => f.client().post("/auth/local", { name: "quinn", password });
    for (let i = 1; i <= 5; i++) refused(await attempt(`guess-${i}`), 401, "CONSOLE_SIGN_IN_FAILED");
    const sixth = await attempt("guess-6");
    refused(sixth, 429, "CONSOLE_SIGN_IN_FAILED", /too many failed sign-ins for quinn/);
    const retryAfter = Number(sixth.headers.get("retry-after"));
    assert.ok(retryAfter > 240 && retryAfter <= 300, `Retry-After ${sixth.headers.get("retry-after")}`);
    const right = await attempt(USERS.quinn.password);
    assert.equal(right.status, 429, "a guess that happens to be right is not even checked");
    assert.deepEqual(right.headers.getSetCookie(), []);
    await f.signIn("viola");
  });
});

describe("sessions", () => {
  const sessionRoutes = CONSOLE_ROUTES.filter((r) => r.auth === "session");

  it("every /api route (and sign-out) without a session is 401 CONSOLE_UNAUTHENTICATED", async () => {
    assert.ok(sessionRoutes.length >= 10);
    for (const route of sessionRoutes) {
      const path = route.path.replace(":ref", "WH%2FMO%2F00001").replace(":seq", "1");
      const anonymous = f.client();
      const res =
        route.method === "GET" ? await anonymous.get(path) : await anonymous.post(path, { sequences: [1] });
      refused(res, 401, "CONSOLE_UNAUTHENTICATED", /sign in/);
      const forged = f.client({ token: "forged-session-token", csrf: "forged" });
      const again =
        route.method === "GET" ? await forged.get(path) : await forged.post(path, { sequences: [1] });
      refused(again, 401, "CONSOLE_UNAUTHENTICATED");
    }
  });

  it("after sign-out the same cookie is 401, and sign-out clears the cookie", async () => {
    const otto = await f.signIn("otto");
    ok(await otto.get("/api/session"));
    refused(await otto.post("/auth/logout", {}, { csrf: false }), 403, "CONSOLE_CSRF_REJECTED");
    ok(await otto.get("/api/session"));
    const out = ok(await otto.logout());
    assert.equal(out.body.signedOut, true);
    const cleared = out.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    assert.match(cleared ?? "", /^tl_session=;.*(Expires=Thu, 01 Jan 1970|Max-Age=0)/i);
    refused(await otto.get("/api/session"), 401, "CONSOLE_UNAUTHENTICATED", /expired or was signed out/);
    refused(await otto.get("/api/dead-letters"), 401, "CONSOLE_UNAUTHENTICATED");
  });

  it("an expired session is 401: the store ends a session at its TTL, and the console refuses a session past its end", async () => {
    const kv = await new Kvm(f.nc).open(SESSIONS_BUCKET);
    const identity: Identity = {
      name: "otto",
      subject: "local:otto",
      roles: ["viewer", "operator"],
      via: "local",
    };
    let now = Date.parse("2026-12-05T06:00:00Z");
    const store = new SessionStore(kv, 60_000, () => now);
    const { token, session } = await store.open(identity);
    assert.equal(session.expiresAt - session.createdAt, 60_000);
    now += 59_999;
    assert.equal((await store.read(token))?.identity.name, "otto");
    now += 1;
    assert.equal(await store.read(token), undefined, "expired at its TTL");

    // A session that ended a second ago, in the console's bucket: the console refuses it.
    const past = new SessionStore(kv, 60_000, () => Date.now() - 61_000);
    const expired = await past.open(identity);
    const client = f.client({ token: expired.token, csrf: expired.session.csrf });
    refused(await client.get("/api/session"), 401, "CONSOLE_UNAUTHENTICATED", /expired/);
    refused(await client.get("/api/dead-letters"), 401, "CONSOLE_UNAUTHENTICATED");
    // The same store's fresh session works: only the end date differs.
    const fresh = await new SessionStore(kv, 60_000).open(identity);
    assert.equal(ok(await f.client({ token: fresh.token }).get("/api/session")).body.user.name, "otto");
  });
});

describe("security headers", () => {
  function assertSecurityHeaders(res: ConsoleResponse, what: string): void {
    const csp = res.headers.get("content-security-policy") ?? "";
    const directives = csp.split(";").map((d) => d.trim());
    assert.ok(directives.includes("default-src 'self'"), `${what}: ${csp}`);
    assert.ok(directives.includes("frame-ancestors 'none'"), `${what}: ${csp}`);
    assert.ok(directives.includes("script-src 'self'"), `${what}: ${csp}`);
    assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(csp), `${what}: nothing inline, no wildcard: ${csp}`);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
    assert.equal(res.headers.get("referrer-policy"), "no-referrer", what);
    assert.match(res.headers.get("x-frame-options") ?? "", /^(DENY|SAMEORIGIN)$/, what);
  }

  it("the page and its bundle carry the CSP, nosniff, no-referrer and frame headers; the bundle is cached for good, the page revalidated", async () => {
    const page = ok(await f.client().get("/"));
    assert.equal(page.text, PAGE["index.html"]);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(page.headers.get("cache-control"), "no-cache");
    assertSecurityHeaders(page, "GET /");
    const bundle = ok(await f.client().get("/assets/app-ABCDEF12.js"));
    assert.equal(bundle.text, PAGE["app-ABCDEF12.js"]);
    assert.match(bundle.headers.get("cache-control") ?? "", /immutable/);
    assertSecurityHeaders(bundle, "GET /assets/app-ABCDEF12.js");
    refused(await f.client().get("/assets/nothing-here.js"), 404, "CONSOLE_NOT_FOUND");
  });

  it("API answers, errors included, carry the same headers and cache-control no-store", async () => {
    const viola = await f.signIn("viola");
    for (const [what, res] of [
      ["GET /api/session", ok(await viola.get("/api/session"))],
      ["GET /api/dead-letters", ok(await viola.get("/api/dead-letters"))],
      ["GET /api/plants (no session)", await f.client().get("/api/plants")],
      ["GET /api/dead-letters/999999", await viola.get("/api/dead-letters/999999")],
      [
        "POST /auth/local (wrong password)",
        await f.client().post("/auth/local", { name: "viola", password: "x" }),
      ],
    ] as const) {
      assertSecurityHeaders(res, what);
      assert.equal(res.headers.get("cache-control"), "no-store", what);
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/, what);
    }
  });
});

describe("CSRF", () => {
  it("an operator's purge without the CSRF token, with a wrong one, or from another origin is 403 CONSOLE_CSRF_REJECTED and the dead letter stays", async () => {
    const seq = await f.deadLetter("WH/MO/04001");
    const otto = await f.signIn("otto");
    const body = { sequences: [seq] };
    const wrongToken = `${otto.csrf?.slice(0, -1)}${otto.csrf?.endsWith("A") ? "B" : "A"}`;
    for (const [what, options] of [
      ["no token", { csrf: false }],
      ["a wrong token", { csrf: wrongToken }],
      ["another session's token", { csrf: (await f.signIn("otto")).csrf ?? "" }],
      ["another site's Origin", { origin: "https://evil.example" }],
      ["the console's origin on another port", { origin: new URL(f.url).origin.replace(/:\d+$/, ":1") }],
      ["Sec-Fetch-Site cross-site", { headers: { "sec-fetch-site": "cross-site" } }],
    ] as const) {
      const res = await otto.post("/api/dead-letters/purge", body, options);
      refused(res, 403, "CONSOLE_CSRF_REJECTED", /reload the page/);
      assert.ok(await f.inDlq(seq), `${what}: the dead letter is still there`);
    }
    // The same request with the token from the console's page goes through: the refusals were the token's.
    const dry = ok(await otto.post("/api/dead-letters/purge", { ...body, dryRun: true }));
    assert.deepEqual(
      dry.body.items.map((i: { seq: number }) => i.seq),
      [seq],
    );
  });
});

describe("roles", () => {
  it("a viewer's redrive and purge are 403 CONSOLE_FORBIDDEN naming the operator role; nothing changes; the refusals are audited with the viewer's name", async () => {
    const seq = await f.deadLetter("WH/MO/05001");
    const viola = await f.signIn("viola");
    const since = new Date();
    const redrive = await viola.post("/api/dead-letters/redrive", { sequences: [seq] });
    refused(redrive, 403, "CONSOLE_FORBIDDEN", /redrive needs the operator role/, /viola has viewer/);
    const purge = await viola.post("/api/dead-letters/purge", { sequences: [seq] });
    refused(purge, 403, "CONSOLE_FORBIDDEN", /purge needs the operator role/);
    assert.ok(await f.inDlq(seq), "the dead letter is still in MFG_DLQ");
    assert.ok(!f.handled.some((h) => h.orderRef === "WH/MO/05001"), "nothing was redriven");

    const records = (await listAudit(f.nc, { since })).filter((r) => /^viola\b/.test(r.who));
    assert.deepEqual(
      records.map((r) => [r.action, r.outcome]),
      [
        ["redrive", "refused"],
        ["purge", "refused"],
      ],
    );
    assert.match(records[0]?.who ?? "", /^viola \[local:viola\] via ops-console@/);
    assert.equal(records[1]?.selection["request"], "POST /api/dead-letters/purge");
    // The route, never the URL a caller chose (a refusal must not let anyone fill the trail), and at
    // most one record a minute per user and route.
    const again = await viola.post(`/api/dead-letters/purge?${"x".repeat(4000)}`, { sequences: [seq] });
    assert.equal(again.status, 403);
    const after = (await listAudit(f.nc, { action: "purge" })).filter(
      (r) => r.outcome === "refused" && r.who.startsWith("viola "),
    );
    assert.equal(after.length, 1, "the second refusal within the minute is logged, not recorded again");
    // The viewer may read the trail, refusals included.
    const trail = ok(await viola.get("/api/audit?action=purge"));
    assert.ok(
      trail.body.items.some(
        (r: { who: string; outcome: string }) => r.outcome === "refused" && r.who.startsWith("viola "),
      ),
    );
  });

  it("a viewer sees everything: plants, orders, dead letters, one dead letter, the audit trail", async () => {
    const seq = await f.deadLetter("WH/MO/05002");
    const viola = await f.signIn("viola");
    for (const path of [
      "/api/plants",
      "/api/orders",
      "/api/dead-letters",
      `/api/dead-letters/${seq}`,
      "/api/audit",
    ])
      ok(await viola.get(path));
  });
});

describe("dead letters", () => {
  type Item = {
    seq: number;
    key: string;
    code: string;
    message: string;
    stream: string;
    consumer: string;
    type: string;
  };
  const keys = (res: ConsoleResponse) => (res.body.items as Item[]).map((i) => i.key).sort();

  it("the list shows each dead letter with its source, reason code and message, filtered by code, stream and free text", async () => {
    const notFound = await f.deadLetter("WH/MO/06001", {
      code: "CONNECTOR_ORDER_NOT_FOUND",
      message: "production order WH/MO/06001 does not exist in Odoo",
    });
    const invalid = await f.deadLetter("WH/MO/06002", {
      code: "PAYLOAD_INVALID",
      message: "quantity refused by the ERP",
    });
    const viola = await f.signIn("viola");
    const all = ok(await viola.get("/api/dead-letters"));
    assert.equal(all.body.total, all.body.items.length);
    const item = (all.body.items as Item[]).find((i) => i.seq === notFound);
    assert.ok(item, "listed");
    assert.deepEqual(
      [item.stream, item.consumer, item.code, item.type, item.key, item.message],
      [
        "MFG_PRODUCTION",
        PROBE_DURABLE,
        "CONNECTOR_ORDER_NOT_FOUND",
        "mfg.production.production_reported.v1",
        "WH/MO/06001",
        "production order WH/MO/06001 does not exist in Odoo",
      ],
    );
    assert.ok(
      (all.body.items as Item[]).findIndex((i) => i.seq === invalid) <
        (all.body.items as Item[]).findIndex((i) => i.seq === notFound),
      "newest first",
    );

    const mine = (q: string) => viola.get(`/api/dead-letters?${q}`).then(ok);
    const ours = (res: ConsoleResponse) => keys(res).filter((k) => k.startsWith("WH/MO/0600"));
    assert.deepEqual(ours(await mine("code=PAYLOAD_INVALID")), ["WH/MO/06002"]);
    assert.deepEqual(ours(await mine("code=CONNECTOR_ORDER_NOT_FOUND")), ["WH/MO/06001"]);
    assert.deepEqual(ours(await mine("stream=MFG_PRODUCTION")), ["WH/MO/06001", "WH/MO/06002"]);
    assert.deepEqual(keys(await mine("stream=MFG_MACHINE")), []);
    assert.deepEqual(ours(await mine(`consumer=${PROBE_DURABLE}&code=PAYLOAD_INVALID`)), ["WH/MO/06002"]);
    assert.deepEqual(
      keys(await mine("text=does%20NOT%20exist%20in%20odoo")).filter((k) => k.startsWith("WH/MO/0600")),
      ["WH/MO/06001"],
    );
    assert.deepEqual(keys(await mine("text=WH%2FMO%2F06002")), ["WH/MO/06002"]);
    assert.deepEqual(keys(await mine("text=quantity%20refused")), ["WH/MO/06002"]);
    assert.deepEqual(keys(await mine("type=mfg.machine.downtime_started.v1")), []);
    assert.ok(ours(await mine("since=15m")).length === 2);
    assert.deepEqual(keys(await mine(`until=${encodeURIComponent("2020-01-01T00:00:00Z")}`)), []);
  });

  it("a bad filter is 400 CONSOLE_REQUEST_INVALID naming the parameter", async () => {
    const viola = await f.signIn("viola");
    refused(
      await viola.get("/api/dead-letters?since=yesterday-ish"),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^query\.since\b/,
      /yesterday-ish/,
    );
    refused(
      await viola.get("/api/dead-letters?type=notatype"),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^query\.type\b/,
      /notatype/,
    );
    refused(
      await viola.get("/api/dead-letters?stream=MFG.*"),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^query\.stream\b/,
    );
    refused(await viola.get("/api/dead-letters?colour=red"), 400, "CONSOLE_REQUEST_INVALID", /colour/);
    refused(
      await viola.get("/api/orders?since=yesterday-ish"),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^query\.since\b/,
    );
    refused(await viola.get("/api/dead-letters/abc"), 400, "CONSOLE_REQUEST_INVALID", /^params\.seq\b/);
  });

  it("one dead letter shows its reason, headers and payload decoded; an unknown sequence is 404 CONSOLE_NOT_FOUND", async () => {
    const seq = await f.deadLetter("WH/MO/06101", { code: "PAYLOAD_INVALID", message: "quantity refused" });
    const viola = await f.signIn("viola");
    const shown = ok(await viola.get(`/api/dead-letters/${seq}`)).body;
    assert.equal(shown.seq, seq);
    assert.equal(shown.code, "PAYLOAD_INVALID");
    assert.equal(shown.message, "quantity refused");
    assert.equal(shown.payload.ok, true, JSON.stringify(shown.payload));
    assert.equal(shown.payload.json.orderRef, "WH/MO/06101");
    assert.deepEqual(shown.payload.json.goodQuantity, { value: "10.000000", uom: "Units" });
    assert.equal(shown.payload.json.equipment.machine, "filler1");
    assert.deepEqual(shown.headers["ce-subject"], ["WH/MO/06101"]);
    refused(await viola.get("/api/dead-letters/999999"), 404, "CONSOLE_NOT_FOUND", /999999/);
  });

  it("purge: a dry run lists the dead letter and deletes nothing; the purge deletes it and the audit trail names the operator", async () => {
    const seq = await f.deadLetter("WH/MO/06201");
    const otto = await f.signIn("otto");
    const dry = ok(await otto.post("/api/dead-letters/purge", { sequences: [seq], dryRun: true }));
    assert.equal(dry.body.dryRun, true);
    assert.deepEqual(
      dry.body.items.map((i: Item) => [i.seq, i.key]),
      [[seq, "WH/MO/06201"]],
    );
    assert.ok(await f.inDlq(seq), "a dry run deletes nothing");

    const since = new Date();
    const done = ok(await otto.post("/api/dead-letters/purge", { sequences: [seq] }));
    assert.deepEqual(done.body, { dryRun: false, deleted: 1, alreadyGone: 0 });
    assert.equal(await f.inDlq(seq), false);
    refused(await otto.get(`/api/dead-letters/${seq}`), 404, "CONSOLE_NOT_FOUND");
    refused(await otto.post("/api/dead-letters/purge", { sequences: [seq] }), 404, "CONSOLE_NOT_FOUND");

    const audit = ok(
      await otto.get(`/api/audit?action=purge&since=${encodeURIComponent(since.toISOString())}`),
    );
    const record = (
      audit.body.items as { who: string; outcome: string; selection: { sequences?: number[] } }[]
    ).find((r) => r.selection.sequences?.includes(seq));
    assert.ok(record, JSON.stringify(audit.body.items));
    assert.equal(record.outcome, "done");
    assert.match(record.who, /^otto \[local:otto\] via ops-console@/);
  });

  it("redrive: a dry run says would-redrive; with the consumer fixed the redrive is handled, the dead letter leaves MFG_DLQ, and it is audited as done", async () => {
    const seq = await f.deadLetter("WH/MO/06301");
    const otto = await f.signIn("otto");
    const dry = ok(await otto.post("/api/dead-letters/redrive", { sequences: [seq], dryRun: true }));
    assert.deepEqual(
      dry.body.items.map((i: { dlqSequence: number; action: string; consumer: string }) => [
        i.dlqSequence,
        i.action,
        i.consumer,
      ]),
      [[seq, "would-redrive", PROBE_DURABLE]],
    );
    assert.ok(await f.inDlq(seq), "a dry run delivers nothing");
    assert.ok(!f.handled.some((h) => h.orderRef === "WH/MO/06301"));

    f.heal("WH/MO/06301"); // the fix is deployed
    const since = new Date();
    const run = ok(await otto.post("/api/dead-letters/redrive", { sequences: [seq], waitSeconds: 20 }));
    assert.equal(run.body.dryRun, false);
    assert.equal(run.body.handled, 1, run.text);
    assert.deepEqual([run.body.failedAgain, run.body.stillWaiting], [[], []]);
    assert.deepEqual(
      f.handled.filter((h) => h.orderRef === "WH/MO/06301"),
      [{ orderRef: "WH/MO/06301", delivery: "redrive" }],
    );
    assert.equal(await f.inDlq(seq), false, "gone from MFG_DLQ");

    const records = (await listAudit(f.nc, { since, action: "redrive" })).filter((r) =>
      (r.selection["sequences"] as number[] | undefined)?.includes(seq),
    );
    assert.deepEqual(
      records.map((r) => [r.outcome, r.who.split(" ")[0]]),
      [["done", "otto"]],
    );
    assert.deepEqual(records[0]?.details["redriven"], [seq]);
  });

  it("a redrive that fails again is reported and audited as failed, and the dead letter is back in MFG_DLQ", async () => {
    const seq = await f.deadLetter("WH/MO/06401", { code: "PAYLOAD_INVALID", message: "still refused" });
    const otto = await f.signIn("otto");
    const run = ok(await otto.post("/api/dead-letters/redrive", { sequences: [seq], waitSeconds: 20 }));
    assert.equal(run.body.handled, 0, run.text);
    assert.equal(run.body.failedAgain.length, 1, run.text);
    assert.equal(await f.inDlq(seq), false, "the old dead letter is replaced");
    const again = ok(await otto.get(`/api/dead-letters/${run.body.failedAgain[0]}`)).body;
    assert.deepEqual([again.key, again.code], ["WH/MO/06401", "PAYLOAD_INVALID"]);
    const audit = ok(await otto.get("/api/audit?action=redrive&since=1m")).body.items as {
      outcome: string;
      selection: { sequences?: number[] };
    }[];
    assert.equal(audit.find((r) => r.selection.sequences?.includes(seq))?.outcome, "failed");
  });

  it("a redrive of two dead letters, one purged meanwhile: the other goes, the gone one is skipped and said, one audit record has both", async () => {
    const gone = await f.deadLetter("WH/MO/06501");
    const kept = await f.deadLetter("WH/MO/06502");
    f.heal("WH/MO/06502");
    const otto = await f.signIn("otto");
    ok(await otto.post("/api/dead-letters/purge", { sequences: [gone] }));
    const run = ok(
      await otto.post("/api/dead-letters/redrive", { sequences: [gone, kept], waitSeconds: 20 }),
    );
    assert.deepEqual(
      run.body.items.map((i: { dlqSequence: number; action: string }) => [i.dlqSequence, i.action]),
      [
        [gone, "skipped"],
        [kept, "redriven"],
      ],
    );
    assert.match(run.body.items[0].reason, /not in MFG_DLQ any more/);
    assert.equal(run.body.handled, 1);
    const records = (await listAudit(f.nc, { action: "redrive" })).filter((r) =>
      (r.selection["sequences"] as number[] | undefined)?.includes(kept),
    );
    assert.equal(records.length, 1);
    assert.deepEqual([records[0]?.outcome, records[0]?.details["redriven"]], ["done", [kept]]);
  });
});

describe("orders and plants", () => {
  const line1 = { site: SITE, area: null, line: "line1", cell: null, machine: null };
  const released = (orderRef: string, lot: string) =>
    f.publish(
      "mfg.production.production_order_released.v1",
      {
        orderRef,
        odooOrderId: BigInt(orderRef.replace(/\D/g, "")),
        product: { code: "JAM-370", name: "Strawberry jam 370 g", odooId: 7n },
        quantity: { value: "1200", uom: "Units" },
        plannedStartAt: new Date(),
        plannedEndAt: null,
        equipment: line1,
        workCenterCode: "L1",
        lotToProduce: lot,
        components: [],
        origin: null,
        materials: null,
        releasedAt: new Date(),
      },
      { key: orderRef },
    );
  const stepChanged = (
    orderRef: string,
    step: "DISPATCHED" | "RUNNING",
    waitingFor: "DISPATCH" | null,
    reason: string | null,
  ) =>
    f.publish(
      "mfg.production.order_step_changed.v1",
      {
        orderRef,
        odooOrderId: BigInt(orderRef.replace(/\D/g, "")),
        equipment: line1,
        step,
        previousStep: "RELEASED",
        waitingFor,
        reason,
        lot: null,
        causeEventId: null,
        changedAt: new Date(),
      },
      { key: orderRef, line: "line1" },
    );

  it("the orders list shows each order's step and what it waits for; stuck=true keeps only the stuck ones; its timeline is in time order with its dead letter; an unknown order is 404", async () => {
    const stuck = "WH/MO/07001";
    const running = "WH/MO/07002";
    await released(stuck, "LOT-07001");
    await stepChanged(stuck, "DISPATCHED", "DISPATCH", "filler1 refused the order: BadInvalidState");
    await released(running, "LOT-07002");
    await stepChanged(running, "RUNNING", null, null);
    await f.publish("mfg.production.production_reported.v1", productionReport(running, "25"), {
      key: running,
      line: "line1",
      machine: "filler1",
    });
    const letter = await f.deadLetter(stuck, {
      code: "CONNECTOR_ORDER_NOT_FOUND",
      message: "WH/MO/07001 is not in Odoo",
    });

    const viola = await f.signIn("viola");
    type Order = {
      orderRef: string;
      step: string;
      waitingFor: string | null;
      reason: string | null;
      stuck: boolean;
    };
    const list = ok(await viola.get("/api/orders")).body.items as (Order & Record<string, unknown>)[];
    const a = list.find((o) => o.orderRef === stuck);
    const b = list.find((o) => o.orderRef === running);
    assert.ok(a && b, JSON.stringify(list.map((o) => o.orderRef)));
    assert.deepEqual(
      [a.step, a.waitingFor, a.reason, a.stuck, a["deadLetters"], a["lot"], a["product"], a["line"]],
      [
        "DISPATCHED",
        "DISPATCH",
        "filler1 refused the order: BadInvalidState",
        true,
        1,
        "LOT-07001",
        "JAM-370",
        "line1",
      ],
    );
    assert.deepEqual(
      [b.step, b.waitingFor, b.stuck, b["deadLetters"], b["good"]],
      ["RUNNING", null, false, 0, 25],
    );
    assert.match(String(b["quantity"]), /^1200(\.0+)? Units$/);
    const stuckOnly = (ok(await viola.get("/api/orders?stuck=true")).body.items as Order[]).map(
      (o) => o.orderRef,
    );
    assert.ok(stuckOnly.includes(stuck));
    assert.ok(!stuckOnly.includes(running));
    assert.ok(
      (ok(await viola.get("/api/orders?stuck=true")).body.items as Order[]).every((o) => o.stuck),
      "only stuck ones",
    );
    refused(await viola.get("/api/orders?stuck=maybe"), 400, "CONSOLE_REQUEST_INVALID", /^query\.stuck\b/);

    const timeline = ok(await viola.get(`/api/orders/${encodeURIComponent(stuck)}`)).body;
    assert.deepEqual(
      timeline.events.map((e: { type: string }) => e.type),
      [
        "mfg.production.production_order_released.v1",
        "mfg.production.order_step_changed.v1",
        "mfg.production.production_reported.v1",
      ],
    );
    const times = timeline.events.map((e: { storedAt: string }) => e.storedAt);
    assert.deepEqual(times, [...times].sort());
    assert.deepEqual(
      timeline.deadLetters.map((d: { seq: number; key: string; code: string }) => [d.seq, d.key, d.code]),
      [[letter, stuck, "CONNECTOR_ORDER_NOT_FOUND"]],
    );
    assert.deepEqual(
      [timeline.order.step, timeline.order.waitingFor, timeline.order.stuck, timeline.order.lots],
      ["DISPATCHED", "DISPATCH", true, ["LOT-07001"]],
    );
    refused(await viola.get("/api/orders/WH%2FMO%2F99999"), 404, "CONSOLE_NOT_FOUND", /WH\/MO\/99999/);
  });

  it("the plants page shows each connector online or offline and each machine with its state, stale behind an offline connector", async () => {
    const machine = (line: string, name: string) => ({
      site: SITE,
      area: null,
      line,
      cell: null,
      machine: name,
    });
    const connector = (
      connectorId: string,
      endpoint: string,
      status: "ONLINE" | "OFFLINE",
      equipment: object[],
    ) =>
      f.publish(
        "mfg.machine.connector_status_changed.v1",
        {
          connectorId,
          endpoint,
          equipment: equipment as never,
          status,
          previousStatus: status === "ONLINE" ? "OFFLINE" : "ONLINE",
          reason: status === "ONLINE" ? null : "BadSecureChannelClosed",
          lastHeartbeatAt: new Date(),
          changedAt: new Date(),
          nodes: [],
        },
        { key: connectorId },
      );
    const state = (
      line: string,
      name: string,
      s: "EXECUTE" | "STOPPED",
      stopReason: { code: string; text: string } | null,
    ) =>
      f.publish(
        "mfg.machine.machine_state_changed.v1",
        {
          equipment: machine(line, name),
          state: s,
          previousState: "IDLE",
          mode: "PRODUCTION",
          stopReason,
          changedAt: new Date(),
        },
        { key: `${SITE}/${line}/${name}`, line, machine: name },
      );
    await connector("bridge-a", "opc.tcp://10.0.4.21:4840", "OFFLINE", [machine("line1", "filler1")]);
    await connector("bridge-a", "opc.tcp://10.0.4.21:4840", "ONLINE", [machine("line1", "filler1")]);
    await connector("bridge-b", "opc.tcp://10.0.4.22:4840", "OFFLINE", [machine("line2", "press2")]);
    await state("line1", "filler1", "STOPPED", { code: "E-104", text: "Infeed jam" });
    await state("line1", "filler1", "EXECUTE", null);
    await state("line2", "press2", "STOPPED", { code: "E-7", text: "Door open" });

    const viola = await f.signIn("viola");
    const plants = ok(await viola.get("/api/plants")).body;
    assert.deepEqual(
      plants.connectors.map(
        (c: { connectorId: string; online: boolean; status: string; reason: string | null }) => [
          c.connectorId,
          c.status,
          c.online,
          c.reason,
        ],
      ),
      [
        ["bridge-a", "ONLINE", true, null],
        ["bridge-b", "OFFLINE", false, "BadSecureChannelClosed"],
      ],
    );
    assert.deepEqual(
      plants.machines.map(
        (m: { path: string; state: string; mode: string; stopReason: unknown; stale: boolean }) => [
          m.path,
          m.state,
          m.mode,
          m.stopReason,
          m.stale,
        ],
      ),
      [
        [`${SITE}/line1/filler1`, "EXECUTE", "PRODUCTION", null, false],
        [`${SITE}/line2/press2`, "STOPPED", "PRODUCTION", { code: "E-7", text: "Door open" }, true],
      ],
    );
  });
});

describe("live updates", () => {
  it("GET /api/live streams an `event: stored` line for an event stored after the page connected", async () => {
    const viola = await f.signIn("viola");
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 20_000);
    try {
      const res = await fetch(`${f.url}/api/live`, {
        headers: { cookie: `${SESSION_COOKIE}=${viola.token}` },
        signal: abort.signal,
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let received = "";
      const read = async (what: string, found: () => boolean) => {
        while (!found()) {
          const { value, done } = await reader.read();
          assert.ok(!done, `the stream ended before ${what}: ${received}`);
          received += value;
        }
      };
      await read("its first line", () => received.includes("retry: 3000\n\n"));
      const id = await f.publish(
        "mfg.machine.machine_state_changed.v1",
        {
          equipment: { site: SITE, area: null, line: "line9", cell: null, machine: "live9" },
          state: "HELD",
          previousState: "EXECUTE",
          mode: "PRODUCTION",
          stopReason: null,
          changedAt: new Date(),
        },
        { key: `${SITE}/line9/live9`, line: "line9", machine: "live9" },
      );
      assert.ok(id);
      const line = () =>
        received.split("\n\n").find((block) => block.includes(`"key":"${SITE}/line9/live9"`));
      await read("the event", () => line() !== undefined);
      const block = line() ?? "";
      assert.match(block, /^event: stored\ndata: /m);
      const data = JSON.parse(block.slice(block.indexOf("data: ") + 6));
      assert.deepEqual(
        [data.stream, data.type, data.subject],
        [
          "MFG_MACHINE",
          "mfg.machine.machine_state_changed.v1",
          `mfg.machine.machine_state_changed.${SITE}.line9.live9`,
        ],
      );
      assert.ok(!("value" in data) && !("data" in data), "headers only: no payload");
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  });
});

describe("body validation", () => {
  it('a purge of { "sequences": "all" } is 400 naming body.sequences and changes nothing', async () => {
    const seq = await f.deadLetter("WH/MO/09001");
    const otto = await f.signIn("otto");
    const before = (await f.jsm.streams.info("MFG_DLQ")).state.messages;
    refused(
      await otto.post("/api/dead-letters/purge", { sequences: "all" }),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^body\.sequences\b/,
    );
    refused(
      await otto.post("/api/dead-letters/purge", { sequences: [] }),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^body\.sequences\b/,
    );
    refused(
      await otto.post("/api/dead-letters/purge", { sequences: [seq], everything: true }),
      400,
      "CONSOLE_REQUEST_INVALID",
      /everything/,
    );
    refused(
      await otto.post("/api/dead-letters/redrive", { sequences: [-1] }),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^body\.sequences\.0\b/,
    );
    refused(
      await otto.post("/api/dead-letters/redrive", { sequences: [seq], waitSeconds: 3600 }),
      400,
      "CONSOLE_REQUEST_INVALID",
      /^body\.waitSeconds\b/,
    );
    assert.ok(await f.inDlq(seq));
    assert.equal((await f.jsm.streams.info("MFG_DLQ")).state.messages, before);
  });
});
