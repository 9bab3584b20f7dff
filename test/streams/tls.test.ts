/**
 * TLS to NATS with client certificates, against a real nats-server that requires them (`verify_and_map`:
 * each certificate's subject is the user it connects as). A client is connected with its CA, certificate
 * and key files; when the files are rotated (as cert-manager rewrites a Secret volume), the connection
 * comes back presenting the new certificate without a restart; a client without a certificate, or with
 * one the server's CA did not sign, is refused; files that do not make a pair are refused by name before
 * anything connects. Certificates are made with openssl for each run.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  checkTlsFiles,
  connectNats,
  natsSettingsFromEnv,
  silentLogger,
  watchTlsFiles,
} from "../../streams/src/index.js";
import { startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const path = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });

/** A P-256 key and a certificate for `cn`, signed by the CA (or self-signed: a rogue one). */
function certificate(name: string, cn: string, options: { signer?: "ca" | "self"; server?: boolean } = {}) {
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path(`${name}.key`));
  openssl("req", "-new", "-key", path(`${name}.key`), "-subj", `/CN=${cn}`, "-out", path(`${name}.csr`));
  const ext = path(`${name}.ext`);
  execFileSync("sh", [
    "-c",
    `printf '%s\\n' ${options.server ? "'subjectAltName=IP:127.0.0.1,DNS:localhost' 'extendedKeyUsage=serverAuth'" : "'extendedKeyUsage=clientAuth'"} > ${ext}`,
  ]);
  const signing =
    options.signer === "self"
      ? ["-signkey", path(`${name}.key`)]
      : ["-CA", path("ca.crt"), "-CAkey", path("ca.key"), "-CAcreateserial"];
  openssl(
    "x509",
    "-req",
    "-in",
    path(`${name}.csr`),
    ...signing,
    "-days",
    "2",
    "-extfile",
    ext,
    "-out",
    path(`${name}.crt`),
  );
}

openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("ca.key"));
openssl(
  "req",
  "-x509",
  "-new",
  "-key",
  path("ca.key"),
  "-subj",
  "/CN=threadline-test-ca",
  "-days",
  "2",
  "-out",
  path("ca.crt"),
);
certificate("server", "nats-server", { server: true });
certificate("client-a", "client-a");
certificate("client-b", "client-b");
certificate("rogue", "client-a", { signer: "self" });

const server = await startTestServer({
  jetstream: false,
  extraConfig: [
    "tls {",
    `  cert_file: ${JSON.stringify(path("server.crt"))}`,
    `  key_file: ${JSON.stringify(path("server.key"))}`,
    `  ca_file: ${JSON.stringify(path("ca.crt"))}`,
    "  verify_and_map: true",
    "}",
    'authorization { users = [ { user: "CN=client-a" }, { user: "CN=client-b" } ] }',
  ].join("\n"),
});
const url = server.clientUrl.replace(/^nats:/, "tls:");

/** The users the server sees connected now (connz with auth details). */
async function connectedAs(): Promise<string[]> {
  const connz = await server.monitor<{ connections?: { authorized_user?: string }[] }>("connz?auth=true");
  return (connz.connections ?? []).map((c) => c.authorized_user ?? "?").sort();
}

test("mutual TLS: connected with its certificate; a rotation of the files reconnects with the new one, no restart", async () => {
  // The files the service reads, as a Secret volume holds them.
  copyFileSync(path("client-a.crt"), path("tls.crt"));
  copyFileSync(path("client-a.key"), path("tls.key"));
  const settings = natsSettingsFromEnv({
    NATS_URL: url,
    NATS_TLS_CA: path("ca.crt"),
    NATS_TLS_CERT: path("tls.crt"),
    NATS_TLS_KEY: path("tls.key"),
  });
  const nc = await connectNats(settings);
  const stop = watchTlsFiles(nc, settings.tls ?? {}, { intervalMs: 100, logger: silentLogger });
  try {
    assert.deepEqual(await connectedAs(), ["CN=client-a"]);
    // A half-done rotation (the new certificate, the old key) is waited out: the connection stays.
    copyFileSync(path("client-b.crt"), path("tls.crt"));
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(await connectedAs(), ["CN=client-a"]);
    copyFileSync(path("client-b.key"), path("tls.key"));
    await until("the connection presents the rotated certificate", async () =>
      (await connectedAs()).join() === "CN=client-b" ? true : undefined,
    );
    // It works as before.
    const sub = nc.subscribe("tls.check", { max: 1 });
    nc.publish("tls.check", "hello");
    for await (const m of sub) assert.equal(m.string(), "hello");
  } finally {
    stop();
    await nc.close();
  }
});

test("mutual TLS: no client certificate, or one the server's CA did not sign, is refused", async () => {
  await assert.rejects(
    connectNats(
      natsSettingsFromEnv({ NATS_URL: url, NATS_TLS_CA: path("ca.crt"), NATS_CONNECT_TIMEOUT_MS: "2000" }),
    ),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, "NATS_UNREACHABLE");
      return true;
    },
  );
  await assert.rejects(
    connectNats(
      natsSettingsFromEnv({
        NATS_URL: url,
        NATS_TLS_CA: path("ca.crt"),
        NATS_TLS_CERT: path("rogue.crt"),
        NATS_TLS_KEY: path("rogue.key"),
        NATS_CONNECT_TIMEOUT_MS: "2000",
      }),
    ),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, "NATS_UNREACHABLE");
      assert.match(err.message, /check that NATS_TLS_CERT is signed by a CA the server trusts/);
      return true;
    },
  );
  assert.deepEqual(await connectedAs(), []);
});

test("TLS settings: a certificate without its key, a key that is not the certificate's, or a missing file are refused by name before connecting", () => {
  assert.throws(
    () => natsSettingsFromEnv({ NATS_URL: url, NATS_TLS_CERT: path("client-a.crt") }),
    /NATS_TLS_KEY is required when NATS_TLS_CERT is set/,
  );
  assert.throws(
    () => checkTlsFiles({ ca: path("ca.crt"), cert: path("client-a.crt"), key: path("client-b.key") }),
    /NATS_TLS_KEY .*client-b\.key is not the key of the certificate .*client-a\.crt/,
  );
  assert.throws(() => checkTlsFiles({ ca: path("missing.crt") }), /NATS_TLS_CA cannot read .*missing\.crt/);
  assert.throws(
    () => checkTlsFiles({ cert: path("client-a.key"), key: path("client-a.key") }),
    /NATS_TLS_CERT .* is not a PEM certificate/,
  );
  const identity = checkTlsFiles({
    ca: path("ca.crt"),
    cert: path("client-a.crt"),
    key: path("client-a.key"),
  });
  assert.equal(identity.certificate?.subject, "CN=client-a");
  assert.ok((identity.certificate?.notAfter.getTime() ?? 0) > Date.now());
});
