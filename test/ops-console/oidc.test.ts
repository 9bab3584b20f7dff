/**
 * Ops console - OpenID Connect sign-in (services/ops-console/src/oidc.ts) against a real OpenID provider
 * (oidc-provider on 127.0.0.1, test/ops-console/fixtures/oidc-provider.ts) whose login page the tests
 * fill with fetch. The console's callback is never requested: the provider's redirect to it is the
 * callback URL handed to finish().
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { calculatePKCECodeChallenge } from "openid-client";
import { ConsoleError } from "../../services/ops-console/src/errors.js";
import { type OidcSettings, OidcSignIn, type PendingSignIn } from "../../services/ops-console/src/oidc.js";
import { CLIENT_ID, CLIENT_SECRET, PUBLIC_CLIENT_ID, startOidcProvider } from "./fixtures/oidc-provider.js";

const CALLBACK = "https://console.plant.invalid/auth/callback";
const SIGNED_OUT = "https://console.plant.invalid/signed-out";

const op = await startOidcProvider({
  redirectUris: [CALLBACK],
  postLogoutRedirectUris: [SIGNED_OUT],
  publicClient: true,
  accounts: {
    alice: {
      sub: "u-alice",
      password: "alice-pw",
      groups: ["plant-ops", "qa", "staff"],
      preferred_username: "alice",
    },
    bob: { sub: "u-bob", password: "bob-pw", groups: ["staff", "canteen"], preferred_username: "bob" },
  },
});
after(() => op.stop());

const settings: OidcSettings = {
  issuer: op.issuer,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  redirectUri: CALLBACK,
  roleMap: { "plant-ops": ["operator"], qa: ["quality"] },
  allowHttp: true,
};
const oidc = await OidcSignIn.discover(settings);

/** A sign-in through the provider's login page: what the console kept, and the callback URL. */
async function signIn(login: string, password: string, returnTo?: string) {
  const pending = oidc.start(returnTo);
  return { pending, callback: await op.signIn(pending.url, login, password) };
}

/** Rejects with a ConsoleError of that code whose message matches every pattern. */
async function refused(promise: Promise<unknown>, code: string, ...patterns: RegExp[]) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof ConsoleError, `not a ConsoleError: ${err}`);
    assert.equal(err.code, code);
    for (const pattern of patterns) assert.match(err.message, pattern);
    return true;
  });
}

describe("OIDC sign-in - who gets in, with which roles", () => {
  it("the browser is sent to the provider's authorization endpoint with the code flow, PKCE S256, a state, a nonce and the role claim's scope", async () => {
    const pending = oidc.start("/plants");
    const url = new URL(pending.url);
    assert.equal(url.origin, op.issuer);
    const q = url.searchParams;
    assert.equal(q.get("response_type"), "code");
    assert.equal(q.get("client_id"), CLIENT_ID);
    assert.equal(q.get("redirect_uri"), CALLBACK);
    assert.equal(q.get("scope"), "openid profile groups");
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.equal(q.get("code_challenge"), await calculatePKCECodeChallenge(pending.codeVerifier));
    assert.equal(q.get("state"), pending.state);
    assert.equal(q.get("nonce"), pending.nonce);
    const other = oidc.start();
    assert.notEqual(other.state, pending.state);
    assert.notEqual(other.nonce, pending.nonce);
    assert.notEqual(other.codeVerifier, pending.codeVerifier);
  });

  it("a user in mapped groups signs in with their roles plus viewer, named by preferred_username, the subject naming issuer and sub", async () => {
    const { pending, callback } = await signIn("alice", "alice-pw", "/dead-letters?stream=orders");
    assert.equal(callback.origin + callback.pathname, CALLBACK);
    assert.deepEqual(await oidc.finish(callback, pending), {
      name: "alice",
      subject: `oidc:${op.issuer}#u-alice`,
      roles: ["viewer", "operator", "quality"],
      via: "oidc",
      returnTo: "/dead-letters?stream=orders",
    });
  });

  it("a user in no mapped group is refused with CONSOLE_NO_ROLE naming the claim and its values", async () => {
    const { pending, callback } = await signIn("bob", "bob-pw");
    await refused(
      oidc.finish(callback, pending),
      "CONSOLE_NO_ROLE",
      /\bbob\b/,
      /"groups"/,
      /staff/,
      /canteen/,
    );
  });

  it("the role claim is configurable: a claim the provider does not send grants nothing", async () => {
    const other = await OidcSignIn.discover({ ...settings, roleClaim: "roles", scopes: "openid profile" });
    const pending = other.start();
    const callback = await op.signIn(pending.url, "alice", "alice-pw");
    await refused(other.finish(callback, pending), "CONSOLE_NO_ROLE", /"roles" claim is absent/);
  });

  it("a public client (no secret) signs in with PKCE alone", async () => {
    const pub = await OidcSignIn.discover({
      ...settings,
      clientId: PUBLIC_CLIENT_ID,
      clientSecret: undefined,
    });
    const pending = pub.start();
    const callback = await op.signIn(pending.url, "alice", "alice-pw");
    assert.equal((await pub.finish(callback, pending)).name, "alice");
  });
});

describe("OIDC sign-in - refused callbacks", () => {
  it("a wrong password is refused at the provider: the browser never comes back to the console", async () => {
    const pending = oidc.start();
    await assert.rejects(op.signIn(pending.url, "alice", "wrong"), /Wrong login or password/);
  });

  it("a callback whose state does not match is refused before its code is redeemed", async () => {
    const { pending, callback } = await signIn("alice", "alice-pw");
    const forged = new URL(callback);
    forged.searchParams.set("state", "forged-state");
    await refused(oidc.finish(forged, pending), "CONSOLE_SIGN_IN_FAILED", /"state"/);
    await refused(
      oidc.finish(callback, { ...pending, state: "another-sign-in" }),
      "CONSOLE_SIGN_IN_FAILED",
      /"state"/,
    );
    assert.equal((await oidc.finish(callback, pending)).name, "alice", "the code was still good");
  });

  it("a callback replayed a second time is refused: the provider redeems a code once", async () => {
    const { pending, callback } = await signIn("alice", "alice-pw");
    await oidc.finish(callback, pending);
    await refused(oidc.finish(callback, pending), "CONSOLE_SIGN_IN_FAILED", /error=invalid_grant/);
  });

  it("a callback redeemed with another sign-in's PKCE verifier is refused", async () => {
    const { pending, callback } = await signIn("alice", "alice-pw");
    const other = oidc.start();
    await refused(
      oidc.finish(callback, { ...pending, codeVerifier: other.codeVerifier }),
      "CONSOLE_SIGN_IN_FAILED",
      /error=invalid_grant/,
    );
  });

  it("a callback carrying the provider's error=access_denied is refused with the provider's error", async () => {
    const pending = oidc.start();
    const callback = await op.cancel(pending.url);
    assert.equal(callback.searchParams.get("error"), "access_denied");
    await refused(
      oidc.finish(callback, pending),
      "CONSOLE_SIGN_IN_FAILED",
      /error=access_denied/,
      /the user cancelled the sign-in/,
    );
  });

  it("a pending sign-in older than 10 minutes is refused; one of 9 minutes is not", async () => {
    const { pending, callback } = await signIn("alice", "alice-pw");
    const aged = (minutes: number): PendingSignIn => ({
      ...pending,
      startedAt: Date.now() - minutes * 60_000,
    });
    await refused(oidc.finish(callback, aged(10.1)), "CONSOLE_SIGN_IN_FAILED", /older than 10 minutes/);
    await refused(
      oidc.finish(callback, { ...pending, startedAt: Number.NaN }),
      "CONSOLE_SIGN_IN_FAILED",
      /older than 10 minutes/,
    );
    assert.equal((await oidc.finish(callback, aged(9))).name, "alice");
  });

  it("returnTo is a same-origin path or else /", async () => {
    for (const kept of ["/", "/plants", "/dead-letters?stream=orders#top"])
      assert.equal(oidc.start(kept).returnTo, kept);
    for (const other of [
      undefined,
      "",
      "//evil.example/x",
      "https://evil.example",
      "/\\evil.example",
      "evil.example",
      "javascript:alert(1)",
      "/x\nLocation: https://evil.example",
    ])
      assert.equal(oidc.start(other).returnTo, "/", JSON.stringify(other));
    const { pending, callback } = await signIn("alice", "alice-pw");
    const tampered = await oidc.finish(callback, { ...pending, returnTo: "//evil.example/x" });
    assert.equal(tampered.returnTo, "/", "finish() does not trust the kept returnTo either");
  });
});

describe("OIDC sign-in - the provider's configuration", () => {
  it("an issuer that does not answer fails discovery with CONSOLE_CONFIG_INVALID naming the issuer", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const issuer = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    await refused(
      OidcSignIn.discover({ ...settings, issuer }),
      "CONSOLE_CONFIG_INVALID",
      new RegExp(issuer.replaceAll(".", "\\.")),
      /ECONNREFUSED/,
    );
  });

  it("an http issuer is refused unless it is on a loopback address and allowHttp is set", async () => {
    for (const [issuer, allowHttp] of [
      ["http://idp.plant.invalid", true],
      ["http://10.0.0.5:8080", true],
      [op.issuer, false],
      ["http://localhost:1", false],
    ] as const)
      await refused(
        OidcSignIn.discover({ ...settings, issuer, allowHttp }),
        "CONSOLE_CONFIG_INVALID",
        new RegExp(`${issuer.replaceAll(".", "\\.")} is http://`),
      );
    await refused(
      OidcSignIn.discover({ ...settings, issuer: "idp.plant" }),
      "CONSOLE_CONFIG_INVALID",
      /not a URL/,
    );
    await refused(
      OidcSignIn.discover({ ...settings, issuer: "ftp://idp.plant" }),
      "CONSOLE_CONFIG_INVALID",
      /not an https URL/,
    );
  });

  it("sign-out goes to the provider's end_session_endpoint with the client and where to come back, which it accepts", async () => {
    const url = new URL(oidc.endSessionUrl(SIGNED_OUT) ?? "");
    assert.equal(url.origin, op.issuer);
    assert.equal(url.searchParams.get("client_id"), CLIENT_ID);
    assert.equal(url.searchParams.get("post_logout_redirect_uri"), SIGNED_OUT);
    assert.equal((await fetch(url, { redirect: "manual" })).status, 200, "the provider's sign-out page");
    const unregistered = new URL(oidc.endSessionUrl("https://evil.example/") ?? "");
    assert.equal((await fetch(unregistered, { redirect: "manual" })).status, 400);
  });
});
