/**
 * The NATS servers' values for the official Helm chart (deploy/nats/): a 3-node hub whose disks hold
 * what Threadline declares — the check that fails when the declarations outgrow them — with an fsync
 * before every acknowledgement and mutual TLS everywhere; a plant leaf sized like its buffer streams and
 * its plain config (deploy/plant/leaf.conf). The JetStream block the values produce is checked by the
 * nats-server under test (`nats-server -t`).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parse } from "yaml";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";
import { findNatsServerBinary } from "../../tools/local-nats/binary.js";
import { platformDeclarations } from "../../tools/manifests.js";

const GiB = 1024 ** 3;
/** What a bucket or stream without a byte limit is counted as: they hold state, not history. */
const UNBOUNDED_ALLOWANCE = 1 * GiB;
/** Room beyond the declared limits: compaction, snapshots, Raft logs. */
const HEADROOM = 1.25;

type Values = {
  config: {
    cluster: {
      enabled: boolean;
      replicas?: number;
      tls?: { enabled: boolean; merge?: { verify?: boolean } };
    };
    jetstream: {
      enabled: boolean;
      fileStore: { pvc: { size: string } };
      merge: { domain: string; sync_interval: string };
    };
    nats?: { tls?: { enabled: boolean; merge?: { verify?: boolean } } };
    leafnodes: { enabled: boolean; tls?: { enabled: boolean; merge?: { verify?: boolean } } };
  };
};

const read = (file: string) => parse(readFileSync(join(PACKAGE_ROOT, file), "utf8")) as Values;
const bytes = (size: string) => {
  const m = /^(\d+)(Mi|Gi|Ti)$/.exec(size);
  assert.ok(m, `${size} is a Kubernetes quantity in Mi, Gi or Ti`);
  return Number(m[1]) * 1024 ** { Mi: 2, Gi: 3, Ti: 4 }[m[2] as "Mi" | "Gi" | "Ti"];
};
const gib = (n: number) => `${(n / GiB).toFixed(1)} GiB`;

const hub = read("deploy/nats/hub-values.yaml");
const leaf = read("deploy/nats/leaf-values.yaml");
const dir = mkdtempSync(join(tmpdir(), "threadline-nats-values-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the hub: 3 nodes, its own JetStream domain, an fsync before every acknowledgement, mutual TLS on clients, routes and leaf connections", () => {
  const c = hub.config;
  assert.equal(c.cluster.enabled, true);
  assert.equal(c.cluster.replicas, 3);
  assert.equal(c.jetstream.enabled, true);
  assert.equal(c.jetstream.merge.domain, "hub");
  assert.equal(c.jetstream.merge.sync_interval, "always");
  for (const [name, block] of [
    ["nats", c.nats?.tls],
    ["cluster", c.cluster.tls],
    ["leafnodes", c.leafnodes.tls],
  ] as const) {
    assert.equal(block?.enabled, true, `${name} TLS`);
    assert.equal(block?.merge?.verify, true, `${name} asks for client certificates`);
  }
});

test("the hub's disk holds every stream and bucket Threadline declares (production profile), with headroom", () => {
  const d = platformDeclarations({ profile: "production" });
  // Each R3 stream has a copy on each of the 3 nodes: a node's disk holds them all.
  const limited = [
    ...Object.values(d.streams).map((s) => s.maxBytes),
    ...Object.values(d.kv).map((k) => k.maxBytes ?? -1),
  ];
  const needed = limited.reduce((n, b) => n + (b > 0 ? b : UNBOUNDED_ALLOWANCE), 0) * HEADROOM;
  const given = bytes(hub.config.jetstream.fileStore.pvc.size);
  assert.ok(
    given >= needed,
    `deploy/nats/hub-values.yaml gives each node ${gib(given)}, the declarations need ${gib(needed)} (their limits, ${UNBOUNDED_ALLOWANCE / GiB} GiB per unlimited bucket, ${HEADROOM}× headroom): raise config.jetstream.fileStore.pvc.size`,
  );
  // …and is not far beyond it: a disk twice the need says the declarations shrank and nobody looked.
  assert.ok(given < needed * 2, `${gib(given)} is more than twice the ${gib(needed)} needed: lower it`);
});

test("the plant leaf: sized like its buffer streams and like leaf.conf, in the same JetStream domain", () => {
  const streams = ["deploy/plant/leaf-mfg-machine.json", "deploy/plant/leaf-mfg-production.json"].map(
    (f) => JSON.parse(readFileSync(join(PACKAGE_ROOT, f), "utf8")) as { max_bytes: number },
  );
  const buffered = streams.reduce((n, s) => n + s.max_bytes, 0);
  const given = bytes(leaf.config.jetstream.fileStore.pvc.size);
  assert.ok(given >= buffered * 1.2, `${gib(given)} for ${gib(buffered)} of plant streams`);
  const conf = readFileSync(join(PACKAGE_ROOT, "deploy/plant/leaf.conf"), "utf8");
  assert.equal(`${/max_file_store: (\d+)GB/.exec(conf)?.[1]}Gi`, leaf.config.jetstream.fileStore.pvc.size);
  assert.equal(/domain: "([^"]+)"/.exec(conf)?.[1], leaf.config.jetstream.merge.domain);
  assert.equal(leaf.config.jetstream.merge.sync_interval, "always");
});

test("the JetStream block the values make is one nats-server accepts (sync_interval needs 2.10 or later)", async () => {
  const bin = await findNatsServerBinary();
  const version = /v(\d+)\.(\d+)/.exec(execFileSync(bin, ["--version"], { encoding: "utf8" }));
  const modern = Number(version?.[1]) > 2 || Number(version?.[2]) >= 10;
  const file = join(dir, "hub.conf");
  const js = hub.config.jetstream;
  writeFileSync(
    file,
    [
      'server_name: "hub-0"',
      'listen: "127.0.0.1:4222"',
      "jetstream {",
      `  store_dir: ${JSON.stringify(join(dir, "js"))}`,
      `  max_file_store: ${bytes(js.fileStore.pvc.size)}`,
      `  domain: ${JSON.stringify(js.merge.domain)}`,
      `  sync_interval: ${JSON.stringify(js.merge.sync_interval)}`,
      "}",
    ].join("\n"),
  );
  const r = spawnSync(bin, ["-t", "-c", file], { encoding: "utf8" });
  if (modern) assert.equal(r.status, 0, r.stderr + r.stdout);
  else
    assert.match(
      r.stderr + r.stdout,
      /unknown field "sync_interval"/,
      "the 2.9 floor does not know it: the hub runs a current server",
    );
});

test("deploy/plant's nats-server configs are ones the nats-server under test accepts (nats-server -t)", async () => {
  const bin = await findNatsServerBinary();
  const plant = join(PACKAGE_ROOT, "deploy", "plant");
  const leaf = spawnSync(bin, ["-t", "-c", join(plant, "leaf.conf")], { encoding: "utf8" });
  assert.equal(leaf.status, 0, leaf.stderr + leaf.stdout);
  // The hub's leafnode listener names its TLS files: the check loads them, so a throwaway pair
  // stands in for the ones cert-manager mounts.
  const key = join(dir, "leafnodes.key");
  const crt = join(dir, "leafnodes.crt");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-keyout",
      key,
      "-out",
      crt,
      "-subj",
      "/CN=nats-leaf.hub.example.com",
      "-days",
      "1",
    ]),
    { stdio: "pipe" },
  );
  const hubConf = readFileSync(join(plant, "hub-leafnodes.conf"), "utf8")
    .replace("/etc/nats/tls/leafnodes/tls.crt", crt)
    .replace("/etc/nats/tls/leafnodes/tls.key", key);
  assert.notEqual(hubConf.indexOf(crt), -1, "hub-leafnodes.conf names its certificate file");
  const file = join(dir, "hub-leafnodes.conf");
  writeFileSync(file, hubConf);
  const hubCheck = spawnSync(bin, ["-t", "-c", file], { encoding: "utf8" });
  assert.equal(hubCheck.status, 0, hubCheck.stderr + hubCheck.stdout);
});

/** Key paths of `values` that the chart's own values.yaml does not have (Helm would ignore them silently). */
function unknownKeys(values: unknown, chart: unknown, path = ""): string[] {
  if (values === null || typeof values !== "object" || Array.isArray(values)) return [];
  return Object.entries(values as Record<string, unknown>).flatMap(([key, value]) => {
    const here = `${path}.${key}`;
    const defaults = (chart as Record<string, unknown> | undefined)?.[key];
    if (chart === null || typeof chart !== "object" || !(key in chart)) return [here];
    // `merge` and `patch` go into the server config or the resource as they are; `{}` is a free map.
    const freeMap =
      key === "merge" ||
      key === "patch" ||
      (typeof defaults === "object" && defaults !== null && Object.keys(defaults).length === 0);
    return freeMap ? [] : unknownKeys(value, defaults, here);
  });
}

test("every key of the values is one the NATS chart has (deploy/schemas/nats-chart-values.yaml): a misplaced key would be ignored", () => {
  const chart = parse(readFileSync(join(PACKAGE_ROOT, "deploy/schemas/nats-chart-values.yaml"), "utf8"));
  for (const file of ["hub-values.yaml", "leaf-values.yaml"]) {
    const values = parse(readFileSync(join(PACKAGE_ROOT, "deploy/nats", file), "utf8"));
    assert.deepEqual(unknownKeys(values, chart), [], file);
  }
  assert.deepEqual(unknownKeys({ config: { jetstream: { fileStore: { pvc: { sise: "1Gi" } } } } }, chart), [
    ".config.jetstream.fileStore.pvc.sise",
  ]);
});

test("the hub's accounts: accounts.conf is included, every password it reads comes from a Secret, and nats-server accepts the whole", async () => {
  const values = parse(readFileSync(join(PACKAGE_ROOT, "deploy/nats/hub-values.yaml"), "utf8")) as {
    config: { merge?: Record<string, string> };
    container: {
      env: Record<string, string | { valueFrom: { secretKeyRef: { name: string; key: string } } }>;
    };
  };
  assert.equal(values.config.merge?.["00$include"], "accounts.conf");
  const accounts = readFileSync(join(PACKAGE_ROOT, "deploy/nats/accounts.conf"), "utf8");
  const variables = [...accounts.matchAll(/password: \$([A-Z_]+)/g)].map((m) => m[1] as string).sort();
  const fromSecret = Object.entries(values.container.env)
    .filter(([, v]) => typeof v === "object" && v.valueFrom.secretKeyRef.name === "nats-account-passwords")
    .map(([k]) => k)
    .sort();
  assert.deepEqual(fromSecret, variables);
  // The server config the chart makes, as far as these values go: JetStream, then the include.
  const bin = await findNatsServerBinary();
  writeFileSync(join(dir, "accounts.conf"), accounts);
  const file = join(dir, "hub-accounts.conf");
  writeFileSync(
    file,
    [
      'server_name: "hub-0"',
      "jetstream {",
      `  store_dir: ${JSON.stringify(join(dir, "js-accounts"))}`,
      `  domain: ${JSON.stringify(hub.config.jetstream.merge.domain)}`,
      "}",
      "include accounts.conf;",
    ].join("\n"),
  );
  const env = { ...process.env, ...Object.fromEntries(variables.map((v) => [v, `pw-${v}`])) };
  const check = spawnSync(bin, ["-t", "-c", file], { encoding: "utf8", env });
  assert.equal(check.status, 0, check.stderr + check.stdout);
});
