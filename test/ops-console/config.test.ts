/**
 * The console's settings: a start it could not serve safely is refused before it connects anywhere,
 * naming the setting.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { hashPassword } from "../../services/ops-console/src/accounts.js";
import { startService } from "../../services/ops-console/src/main.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-console-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const accounts = join(dir, "accounts.json");
writeFileSync(
  accounts,
  JSON.stringify({
    accounts: [{ name: "a", password: await hashPassword("a long enough password"), roles: ["viewer"] }],
  }),
);
// Nothing listens here: a start that got as far as connecting would fail differently.
const base = {
  NATS_URL: "nats://127.0.0.1:1",
  HTTP_PORT: "0",
  LOG_LEVEL: "silent",
  CONSOLE_ACCOUNTS_FILE: accounts,
};
const refused = (env: Record<string, string>) =>
  startService(env, { webDir: dir }).then(
    () => assert.fail("the console started"),
    (err: Error & { code?: string }) => err,
  );

test("listening beyond loopback without CONSOLE_PUBLIC_URL is refused, naming it", async () => {
  const err = await refused({ ...base, HTTP_HOST: "0.0.0.0" });
  assert.equal(err.code, "CONFIG_INVALID");
  assert.match(
    err.message,
    /^CONSOLE_PUBLIC_URL is required when the console listens beyond loopback \(HTTP_HOST=0\.0\.0\.0\)/,
  );
});

test("an http:// public address on another host is refused unless CONSOLE_ALLOW_HTTP says TLS ends in front", async () => {
  const err = await refused({
    ...base,
    HTTP_HOST: "0.0.0.0",
    CONSOLE_PUBLIC_URL: "http://console.plant.example",
  });
  assert.match(
    err.message,
    /^CONSOLE_PUBLIC_URL is http:\/\/ on console\.plant\.example: sessions would travel in clear text/,
  );
});

test("no way to sign in, half an OIDC setting or a role map that is not JSON: refused, naming the setting", async () => {
  const none = await refused({ NATS_URL: "nats://127.0.0.1:1", HTTP_PORT: "0", LOG_LEVEL: "silent" });
  assert.match(none.message, /CONSOLE_ACCOUNTS_FILE.*no way to sign in/);
  const half = await refused({ ...base, OIDC_ISSUER: "https://idp.example" });
  assert.match(half.message, /OIDC_ISSUER.*needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_ROLE_MAP together/);
  const map = await refused({
    ...base,
    OIDC_ISSUER: "https://idp.example",
    OIDC_CLIENT_ID: "c",
    OIDC_ROLE_MAP: "{nope",
  });
  assert.match(map.message, /OIDC_ROLE_MAP.*must be JSON/);
});
