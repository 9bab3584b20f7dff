/**
 * threadline tap --sql - a selection tapped into a SQL table by the real CLI, against a real nats-server
 * with the platform's declarations applied: into the embedded database (PGlite in a data directory,
 * the default when DATABASE_URL is not set) the table holds exactly the selected events keyed by id
 * with exact decimals; a rerun adds only what was published since (the position is kept), a second tap
 * over the same events adds nothing; a --follow tap stopped with SIGINT and restarted loses and
 * duplicates nothing; bad input fails before anything is read. The first test runs again through
 * DATABASE_URL when a PostgreSQL server answers at 127.0.0.1:5432.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PGlite } from "@electric-sql/pglite";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import pg from "pg";
import { EventCodec, PACKAGE_ROOT, SchemaRegistry } from "../../contracts/src/index.js";
import { applyPlan, EventPublisher, planChanges, serverFacts } from "../../streams/src/index.js";
import { platformDeclarations } from "../../tools/manifests.js";
import { threadline } from "../harness/cli.js";
import { connectTo, startTestServer } from "../harness/nats.js";
import { until } from "../harness/wait.js";

const REPORTED = "mfg.production.production_reported.v1";
const COMPLETED = "mfg.production.production_order_completed.v1";
const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

const server = await startTestServer();
const nc = await connectTo(server);
const js = jetstream(nc);
const jsm = await jetstreamManager(nc);
await applyPlan(jsm, await planChanges(jsm, platformDeclarations({ profile: "local" }), serverFacts(nc)), {
  force: false,
});
const codec = new EventCodec();
const registry = await SchemaRegistry.open(nc);
for (const t of [REPORTED, COMPLETED]) await registry.register(t, codec.contract(t).text);
const publisher = new EventPublisher(js, codec, { service: "tap-sql-tester", site: "plant1" });
const target = (key: string) => ({ site: "plant1", line: "line1", machine: "filler1", key });
const root = mkdtempSync(join(tmpdir(), "threadline-tap-sql-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** The embedded default: DATABASE_URL cleared, so the CLI opens PGlite in --data-dir. */
const embedded = { NATS_URL: server.clientUrl, DATABASE_URL: "" };
const tap = (args: string[], env: Record<string, string> = embedded) => threadline(["tap", ...args], { env });

const equipment = { site: "plant1", area: null, line: "line1", cell: null, machine: "filler1" };
const report = (orderRef: string, good: string) => ({
  equipment,
  orderRef,
  lot: null,
  goodQuantity: { value: good, uom: "Units" },
  rejectQuantity: { value: "0.000000", uom: "Units" },
  goodCounterFrom: 0n,
  goodCounterTo: 1n,
  rejectCounterFrom: 0n,
  rejectCounterTo: 0n,
  periodStartAt: new Date("2026-12-05T08:00:00.000Z"),
  reportedAt: new Date("2026-12-05T08:05:00.000Z"),
  countingPoint: true,
  rejectedComponent: null,
  running: [],
});
const completed = (orderRef: string) => ({
  orderRef,
  odooOrderId: 42n,
  product: { code: "P-1", name: null, odooId: null },
  producedQuantity: { value: "3.000000", uom: "Units" },
  scrappedQuantity: null,
  lot: null,
  equipment,
  completedAt: new Date("2026-12-05T09:00:00.000Z"),
  lots: [],
});
const publishReport = (key: string, good: string) =>
  publisher.publish(REPORTED, report(key, good), target(key));

interface Row {
  id: string;
  seq: number;
  type: string;
  subject: string;
  time: string;
  stored_at: string;
  schema_version: number | null;
  good: string;
}

type Query = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** Runs `fn` against the embedded database in `dir` (the CLI must not be running on it). */
async function withEmbedded<T>(dir: string, fn: (q: Query) => Promise<T>): Promise<T> {
  const db = await PGlite.create({ dataDir: dir });
  try {
    return await fn(async (text, params) => (await db.query<Record<string, unknown>>(text, params)).rows);
  } finally {
    await db.close();
  }
}

async function withPostgres<T>(fn: (q: Query) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await fn(async (text, params) => (await client.query(text, params)).rows);
  } finally {
    await client.end();
  }
}

/** The table's rows in stream order, the payload's decimal as the JSON held it. */
const rowsOf = async (q: Query, table: string): Promise<Row[]> =>
  (
    await q(
      `SELECT id, seq::int AS seq, type, subject, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time, stored_at,
              schema_version, data->'goodQuantity'->>'value' AS good, jsonb_typeof(data->'goodQuantity'->'value') AS kind
       FROM ${table} ORDER BY seq`,
    )
  ).map((r) => {
    assert.equal(r.kind, "string", "a decimal is held as an exact string");
    return r as unknown as Row;
  });
const positionOf = async (q: Query, tap: string) =>
  (
    await q("SELECT stream, last_seq::int AS last_seq FROM threadline_tap_positions WHERE tap = $1", [tap])
  )[0];

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * The first test's scenario against one database: a tap of one order's reports since a time, then a
 * rerun after more are published, then a second tap (another --name) over the same events.
 */
async function tapTwiceAndReplay(
  key: string,
  args: string[],
  env: Record<string, string>,
  query: <T>(fn: (q: Query) => Promise<T>) => Promise<T>,
  table: string,
) {
  await publishReport(key, "1.000000");
  await sleep(30);
  const since = new Date().toISOString();
  const a = await publishReport(key, "123456789012.123456");
  await publishReport(`${key}-other`, "5.000000");
  await publisher.publish(COMPLETED, completed(key), target(key));
  const b = await publishReport(key, "0.000001");
  const selection = ["--type", REPORTED, "--key", key, "--since", since];

  const first = await tap([...selection, "--sql", table, ...args], env);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "");
  assert.match(
    first.stderr,
    new RegExp(
      `^2 events \\(seq ${a.ack.seq}-${b.ack.seq}\\) into ${table} in .*: 2 new, 0 already there; tap ${table} at seq ${b.ack.seq}\\n$`,
    ),
  );
  await query(async (q) => {
    const rows = await rowsOf(q, table);
    assert.deepEqual(
      rows.map((r) => [r.id, r.seq, r.type, r.subject, r.good, r.schema_version]),
      [
        [a.envelope.id, a.ack.seq, REPORTED, key, "123456789012.123456", 1],
        [b.envelope.id, b.ack.seq, REPORTED, key, "0.000001", 1],
      ],
    );
    assert.deepEqual(
      rows.map((r) => r.time),
      [a.envelope.time.toISOString(), b.envelope.time.toISOString()],
    );
    assert.deepEqual(await positionOf(q, table), { stream: "MFG_PRODUCTION", last_seq: b.ack.seq });
  });

  await publishReport(`${key}-other`, "6.000000");
  const c = await publishReport(key, "7.250000");
  const rerun = await tap([...selection, "--sql", table, ...args], env);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(
    rerun.stderr,
    new RegExp(
      `tap ${table} resumes after seq ${b.ack.seq} \\(--seq FROM and --since apply only to a tap's first run\\)`,
    ),
  );
  assert.match(
    rerun.stderr,
    new RegExp(
      `^1 events \\(seq ${c.ack.seq}-${c.ack.seq}\\) into ${table} in .*: 1 new, 0 already there; tap ${table} at seq ${c.ack.seq}$`,
      "m",
    ),
  );
  await query(async (q) => {
    assert.deepEqual(
      (await rowsOf(q, table)).map((r) => [r.id, r.good]),
      [
        [a.envelope.id, "123456789012.123456"],
        [b.envelope.id, "0.000001"],
        [c.envelope.id, "7.250000"],
      ],
    );
    assert.deepEqual(await positionOf(q, table), { stream: "MFG_PRODUCTION", last_seq: c.ack.seq });
  });

  const replay = await tap([...selection, "--sql", table, "--name", `${table}_again`, ...args], env);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stderr, /^3 events \(seq \d+-\d+\) into .*: 0 new, 3 already there; /m);
  await query(async (q) => assert.equal((await rowsOf(q, table)).length, 3, "nothing duplicated"));
}

/** `threadline tap … --follow` as a child process, its stderr collected. */
function follow(args: string[]): {
  child: ChildProcess;
  stderr: () => string;
  closed: Promise<number | null>;
} {
  const child = spawn(
    process.execPath,
    [join(PACKAGE_ROOT, "bin/threadline.js"), "tap", ...args, "--follow"],
    {
      env: { ...process.env, ...embedded },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, stderr: () => stderr, closed };
}

describe("threadline tap --sql", () => {
  test("embedded default: the table holds exactly the selected events keyed by id, decimals exact; a rerun adds only the new ones; another tap adds nothing", async () => {
    const dir = join(root, "db1");
    await tapTwiceAndReplay(
      "WH/MO/S1",
      ["--data-dir", dir],
      embedded,
      (fn) => withEmbedded(dir, fn),
      "reports",
    );
  });

  test("a --follow tap stopped with SIGINT and restarted loses nothing and duplicates nothing", async () => {
    const dir = join(root, "db2");
    const key = "WH/MO/F1";
    const args = ["--type", REPORTED, "--key", key, "--sql", "followed", "--data-dir", dir];
    const published: { id: string; seq: number }[] = [];
    const publish = async (good: string) => {
      const e = await publishReport(key, good);
      published.push({ id: e.envelope.id, seq: e.ack.seq });
      return e.ack.seq;
    };
    await publish("1.000000");
    const committedUpTo = (stderr: string, seq: number) =>
      [...stderr.matchAll(/position seq (\d+)/g)].some((m) => Number(m[1]) >= seq);

    const one = follow(args);
    await until("the stored event committed", () => committedUpTo(one.stderr(), published[0]?.seq ?? 0), {
      timeoutMs: 30_000,
      detail: one.stderr,
    });
    await publish("2.000000");
    const live = await publish("3.000000");
    await until("the live events committed", () => committedUpTo(one.stderr(), live), {
      timeoutMs: 15_000,
      detail: one.stderr,
    });
    // Published just before SIGINT: read or not, it must be committed now or by the restart — once.
    await publish("4.000000");
    one.child.kill("SIGINT");
    assert.equal(await one.closed, 0, one.stderr());
    assert.equal(existsSync(join(dir, "threadline-tap.lock")), false, "the data directory is released");
    assert.match(
      one.stderr(),
      /events .* into followed in .*embedded PostgreSQL.*; tap followed at seq \d+\n$/,
    );

    await publish("5.000000");
    const lastSeq = await publish("6.000000");
    const two = follow(args);
    await until("the restarted tap caught up", () => committedUpTo(two.stderr(), lastSeq), {
      timeoutMs: 30_000,
      detail: two.stderr,
    });
    two.child.kill("SIGINT");
    assert.equal(await two.closed, 0, two.stderr());
    assert.match(two.stderr(), /tap followed resumes after seq \d+/);
    assert.match(
      two.stderr(),
      /: \d+ new, 0 already there; tap followed at seq \d+\n$/,
      "nothing read twice",
    );

    await withEmbedded(dir, async (q) => {
      assert.deepEqual(
        (await rowsOf(q, "followed")).map((r) => [r.id, r.seq, r.good]),
        published.map((p, i) => [p.id, p.seq, `${i + 1}.000000`]),
      );
      assert.deepEqual(await positionOf(q, "followed"), { stream: "MFG_PRODUCTION", last_seq: lastSeq });
    });
  });

  test("bad input: an unreachable database, a bad URL or a data directory in use exits 1 before reading; a bad table name or a stray flag is usage (2)", async () => {
    await publishReport("WH/MO/B1", "1.000000");
    const unreachable = await tap([
      "--type",
      REPORTED,
      "--sql",
      "t",
      "--database-url",
      "postgres://postgres@127.0.0.1:1/test",
    ]);
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /--sql: cannot connect to postgres:\/\/postgres@127\.0\.0\.1:1\/test: .*; nothing was read/,
    );
    assert.doesNotMatch(unreachable.stderr, /events/);
    const badUrl = await tap(["--type", REPORTED, "--sql", "t"], {
      ...embedded,
      DATABASE_URL: "mysql://db/x",
    });
    assert.equal(badUrl.code, 1);
    assert.match(
      badUrl.stderr,
      /the database URL must start with postgres:\/\/ or postgresql:\/\/ \(got mysql:\/\/\); nothing was read/,
    );
    const notUrl = await tap(["--type", REPORTED, "--sql", "t", "--database-url", "not a url"]);
    assert.equal(notUrl.code, 1);
    assert.match(notUrl.stderr, /the database URL is not a URL/);
    const held = join(root, "held");
    mkdirSync(held);
    writeFileSync(join(held, "threadline-tap.lock"), String(process.pid));
    const inUse = await tap(["--type", REPORTED, "--sql", "t", "--data-dir", held]);
    assert.equal(inUse.code, 1);
    assert.match(
      inUse.stderr,
      new RegExp(`in use by process ${process.pid} \\(one threadline-tap at a time per data directory`),
    );
    const badTable = await tap(["--type", REPORTED, "--sql", "drop table x;"]);
    assert.equal(badTable.code, 2);
    assert.match(badTable.stderr, /--sql needs a table name/);
    const stray = await tap(["--type", REPORTED, "--data-dir", join(root, "never")]);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--data-dir goes with --sql <table>/);
    const both = await tap(["--type", REPORTED, "--sql", "t", "--output", "x.ndjson"]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--sql writes into a table: it cannot be combined with --output/);
  });

  test("through DATABASE_URL (PostgreSQL at 127.0.0.1:5432): the same table, rerun and replay", async (t) => {
    if (!(await postgresReachable())) {
      t.skip(`no PostgreSQL answers at ${POSTGRES_URL}; the embedded default is covered above`);
      return;
    }
    const table = `tap_sql_test_${process.pid}_${Date.now()}`;
    const env = { NATS_URL: server.clientUrl, DATABASE_URL: POSTGRES_URL };
    try {
      await tapTwiceAndReplay("WH/MO/P1", [], env, withPostgres, table);
    } finally {
      await withPostgres(async (q) => {
        await q(`DROP TABLE IF EXISTS ${table}`);
        await q("DELETE FROM threadline_tap_positions WHERE tap = $1 OR tap = $2", [table, `${table}_again`]);
      });
    }
  });
});
