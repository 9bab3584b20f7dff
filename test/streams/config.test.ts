import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { BaseServiceConfig, loadConfig } from "../../streams/src/config.js";
import { connectionOptions, natsSettingsFromEnv } from "../../streams/src/connection.js";
import { ConfigError } from "../../streams/src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function failure(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected a ConfigError");
}

describe("service config - file and environment, validated", () => {
  test("defaults apply when nothing is set", () => {
    const c = loadConfig(BaseServiceConfig, { env: {} });
    assert.equal(c.HTTP_PORT, 9464);
    assert.equal(c.DRAIN_TIMEOUT_MS, 25_000);
    assert.equal(c.LOG_LEVEL, "info");
  });

  test("environment variables override the file", () => {
    const file = join(dir, "svc.yaml");
    writeFileSync(file, "SITE: plant7\nHTTP_PORT: 9000\n");
    const c = loadConfig(BaseServiceConfig, { env: { HTTP_PORT: "9100" }, file });
    assert.equal(c.SITE, "plant7");
    assert.equal(c.HTTP_PORT, 9100);
  });

  test("a wrong value names the variable and what was wrong", () => {
    const e = failure(() => loadConfig(BaseServiceConfig, { env: { HTTP_PORT: "eighty" } }));
    assert.equal(e.key, "HTTP_PORT");
    assert.match(e.message, /HTTP_PORT/);
    const level = failure(() => loadConfig(BaseServiceConfig, { env: { LOG_LEVEL: "loud" } }));
    assert.equal(level.key, "LOG_LEVEL");
  });

  test("an unknown key in the file is named, so a typo never silently falls back to a default", () => {
    const file = join(dir, "typo.json");
    writeFileSync(file, JSON.stringify({ HTTP_PROT: 1 }));
    assert.equal(failure(() => loadConfig(BaseServiceConfig, { env: {}, file })).key, "HTTP_PROT");
  });

  test("an unreadable or malformed file is named", () => {
    assert.match(
      failure(() => loadConfig(BaseServiceConfig, { env: {}, file: join(dir, "missing.yaml") })).message,
      /missing\.yaml/,
    );
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "a: [unclosed\n");
    assert.match(
      failure(() => loadConfig(BaseServiceConfig, { env: {}, file: bad })).message,
      /not valid YAML/,
    );
  });

  test("NATS settings: a bad URL or a user without password is named, and the secret never appears", () => {
    assert.equal(failure(() => natsSettingsFromEnv({ NATS_URL: "localhost" })).key, "NATS_URL");
    const e = failure(() => natsSettingsFromEnv({ NATS_USER: "svc" }));
    assert.equal(e.key, "NATS_PASSWORD");
    const withSecret = failure(() =>
      natsSettingsFromEnv({ NATS_URL: "bogus url", NATS_PASSWORD: "hunter2-secret" }),
    );
    assert.doesNotMatch(withSecret.message, /hunter2/);
  });

  test("NATS settings: tls:// asks nats.js for TLS (it ignores the scheme); mixing tls:// and plain servers is refused", () => {
    const secure = natsSettingsFromEnv({ NATS_URL: "tls://a:4222,tls://b:4222" });
    assert.deepEqual(connectionOptions(secure).tls, {});
    assert.equal(connectionOptions(natsSettingsFromEnv({ NATS_URL: "nats://a:4222" })).tls, undefined);
    const mixed = failure(() => natsSettingsFromEnv({ NATS_URL: "tls://a:4222,nats://b:4222" }));
    assert.equal(mixed.key, "NATS_URL");
    assert.match(mixed.message, /mixes tls:\/\/ and plain servers/);
  });
});
