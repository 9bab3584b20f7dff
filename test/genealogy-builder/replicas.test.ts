/**
 * The genealogy builder as several replicas: a real nats-server with the platform's declarations, the
 * service as its least-privilege NATS user, two copies in this process told apart by HOSTNAME.
 *
 * On one PostgreSQL server (when one is here) two replicas share the durables and write one graph
 * while events arrive, one of them stopped half-way: every event is in the graph once, sums shared by
 * many events (one edge, many consumptions) are exact, and the graph equals, row for row, the one a
 * single reader builds from the same streams (the rebuild); a batch the server aborts to break a
 * deadlock with another writer is run again. Two rebuilds asked of two replicas at once:
 * one runs, the other is refused. On embedded databases a second replica is refused at start: two
 * graphs would each miss what the other applied; and one that lost the lease keeps nothing more.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Kvm } from "@nats-io/kv";
import pg from "pg";
import { startService } from "../../services/genealogy-builder/src/main.js";
import { GENEALOGY_LEASES_BUCKET } from "../../services/genealogy-builder/src/manifest.js";
import { dumpGraph } from "../../services/genealogy-builder/src/store/dump.js";
import { migrate } from "../../services/genealogy-builder/src/store/schema.js";
import { ProjectionWriter } from "../../services/genealogy-builder/src/store/writer.js";
import { openDatabase, type RunningService } from "../../streams/src/index.js";
import { freshPostgresDatabase, postgresUnavailableReason } from "../harness/postgres.js";
import { until } from "../harness/wait.js";
import { type GenealogyNats, genealogyNats } from "./fixtures/nats.js";
import { STORY, type StoryEvent } from "./fixtures/story.js";

const TOKEN = "genealogy-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "threadline-genealogy-replicas-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Consumptions that pile onto a few edges: component lots BULK-0..3 into produced lots BULKOUT-0..2. */
const BULK = 1200;
const template = STORY.find(
  (e) => e.type === "mfg.inventory.material_consumed.v1",
) as StoryEvent<"mfg.inventory.material_consumed.v1">;
const bulk: StoryEvent[] = Array.from({ length: BULK }, (_, i) => ({
  id: `bulk-${String(i).padStart(5, "0")}`,
  type: "mfg.inventory.material_consumed.v1",
  value: {
    ...template.value,
    componentLot: `BULK-${i % 4}`,
    producedLot: `BULKOUT-${i % 3}`,
    quantity: { value: "0.5", uom: "kg" },
    odooMoveId: BigInt(50_000 + i),
  },
}));

type Nats = GenealogyNats;

const replica = (nats: Nats, name: string, settings: Record<string, string>) =>
  startService({
    NATS_URL: nats.server.clientUrl,
    NATS_USER: nats.user.user,
    NATS_PASSWORD: nats.user.pass,
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: "0",
    LOG_LEVEL: "silent",
    GENEALOGY_API_TOKEN: TOKEN,
    HOSTNAME: name,
    // An embedded database blocks the event loop while it opens (seconds on a busy machine): a ttl that
    // outlasts it, so the owner's renewals are never late.
    GENEALOGY_LEASE_TTL_MS: "12000",
    ...settings,
  });

const api = async (service: RunningService, path: string, init: RequestInit = {}) => {
  const res = await fetch(`${service.url}/genealogy${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const backwardLots = async (service: RunningService) =>
  (
    (await api(service, "/lots/FIN-1/trace?direction=backward")).body.lots as { lot: string }[] | undefined
  )?.map((l) => l.lot);

async function withDb<T>(
  url: string,
  fn: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>,
): Promise<T> {
  const db = await openDatabase({ url, dataDir: "" });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const postgres = await freshPostgresDatabase();
if (!postgres)
  console.log(
    `# several replicas on one PostgreSQL: not run here (${postgresUnavailableReason || "no server"})`,
  );

describe("genealogy builder, several replicas", () => {
  test("on embedded databases a second replica is refused at start, naming the first; one that lost the lease writes nothing; the second starts once the first stopped", async () => {
    const nats = await genealogyNats();
    await nats.publish(STORY);
    const first = await replica(nats, "genealogy-a", { GENEALOGY_DATA_DIR: join(dir, "a") });
    after(() => first.stop());
    await until(
      "the story in the first replica's graph",
      async () => (await backwardLots(first))?.length === 4,
      {
        timeoutMs: 30_000,
        intervalMs: 250,
      },
    );
    const refused = replica(nats, "genealogy-b", { GENEALOGY_DATA_DIR: join(dir, "b") });
    after(() => refused.then((s) => s.stop()).catch(() => undefined));
    await assert.rejects(refused, (err: Error) => {
      assert.equal((err as { code?: string }).code, "GENEALOGY_EMBEDDED_TAKEN");
      assert.match(err.message, /genealogy-a:\d+ keeps the graph genealogy in its embedded database/);
      return true;
    });
    // The refused one consumed nothing: the first one's graph takes what comes next.
    const next = {
      ...template,
      id: "after-refusal",
      value: { ...template.value, producedLot: "AFTER-REFUSAL" },
    };
    await nats.publish([next]);
    await until(
      "the next event in the first replica's graph",
      async () => (await api(first, "/lots/AFTER-REFUSAL/trace?direction=backward")).status === 200,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    // Someone else takes the lease (as a standby would after a long pause of the first): the first
    // reports not ready and gives events back to the stream instead of keeping them in its graph.
    const leases = await new Kvm(nats.nc).open(GENEALOGY_LEASES_BUCKET);
    await leases.put("embedded.genealogy", JSON.stringify({ holder: "intruder:1" }));
    await until(
      "the first replica not ready",
      async () => (await fetch(`${first.url}/readyz`)).status === 503,
      {
        timeoutMs: 15_000,
        intervalMs: 200,
      },
    );
    await nats.publish([
      { ...template, id: "after-takeover", value: { ...template.value, producedLot: "TAKEN-OVER" } },
    ]);
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await api(first, "/lots/TAKEN-OVER/trace?direction=backward")).status, 404);
    await first.stop();
    // The intruder goes: the other takes over at once (its own database, from the durables' position).
    await leases.delete("embedded.genealogy");
    const second = await replica(nats, "genealogy-b", { GENEALOGY_DATA_DIR: join(dir, "b") });
    after(() => second.stop());
    assert.equal((await fetch(`${second.url}/readyz`)).status, 200);
    await second.stop();
  });

  if (postgres)
    test("a batch the server aborts to break a deadlock with another writer is run again: its events are applied, none goes back to the stream", async () => {
      const schema = "genealogy_d";
      const db = await openDatabase({ url: postgres, dataDir: "", poolSize: 4 });
      after(() => db.close());
      await migrate(db, schema);
      const registered = STORY.find((e) => e.type === "mfg.inventory.lot_registered.v1") as StoryEvent;
      let seq = 0;
      const lot = (id: string, name: string) => ({
        id,
        stream: "MFG_INVENTORY",
        seq: ++seq,
        type: registered.type,
        value: { ...(registered.value as object), lot: name },
      });
      const writer = new ProjectionWriter(db, schema, { maxBatch: 2, lingerMs: 50 });
      await Promise.all([writer.write(lot("x-0", "DL-X")), writer.write(lot("y-0", "DL-Y"))]);
      // Another writer (a replica's transaction) holds DL-Y's row...
      const other = new pg.Client({ connectionString: postgres });
      await other.connect();
      after(() => other.end());
      await other.query("BEGIN");
      await other.query(`SELECT 1 FROM ${schema}.lots WHERE lot = 'DL-Y' FOR UPDATE`);
      // ...while this batch takes DL-X's, then waits for DL-Y's,
      const batch = Promise.all([writer.write(lot("x-1", "DL-X")), writer.write(lot("y-1", "DL-Y"))]);
      await until(
        "the batch waiting for DL-Y",
        async () =>
          Number(
            (
              await db.query<{ n: string }>(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
              )
            ).rows[0]?.n,
          ) > 0,
        { timeoutMs: 10_000, intervalMs: 20 },
      );
      // ...and the other asks for DL-X: a deadlock. The server aborts the batch (it waited first); the
      // other gets DL-X, commits, and the batch, run again, goes through.
      await other.query(`SELECT 1 FROM ${schema}.lots WHERE lot = 'DL-X' FOR UPDATE`);
      await other.query("COMMIT");
      await batch;
      const ids = (
        await db.query<{ event_id: string }>(`SELECT event_id FROM ${schema}.applied_events ORDER BY 1`)
      ).rows;
      assert.deepEqual(
        ids.map((r) => r.event_id),
        ["x-0", "x-1", "y-0", "y-1"],
      );
    });

  if (postgres)
    test("two replicas starting at once on a fresh PostgreSQL database both migrate it: each migration applied once", async () => {
      const schema = "genealogy_fresh";
      const [a, b] = await Promise.all([
        withDb(postgres, (db) => migrate(db, schema)),
        withDb(postgres, (db) => migrate(db, schema)),
      ]);
      const versions = await withDb(postgres, async (db) =>
        (
          await db.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY 1`)
        ).rows.map((r) => Number(r.version)),
      );
      assert.deepEqual(
        [...a, ...b].sort((x, y) => x - y),
        versions,
      );
      assert.ok(versions.length > 0);
    });

  if (postgres)
    test("two replicas on one PostgreSQL, one stopped half-way: every event once, exact sums, the graph a single reader builds", async () => {
      const nats = await genealogyNats();
      const schema = "genealogy_r";
      const settings = { DATABASE_URL: postgres, GENEALOGY_SCHEMA: schema };
      const a = await replica(nats, "genealogy-a", settings);
      const b = await replica(nats, "genealogy-b", settings);
      after(() => Promise.all([a.stop(), b.stop()]));
      const applied = () =>
        withDb(postgres, async (db) =>
          Number(
            (await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.applied_events`)).rows[0]?.n,
          ),
        );
      const events = [...STORY, ...bulk];
      const half = Math.floor(events.length / 2);
      await nats.publish(events.slice(0, half));
      await until("a third of the events in the graph", async () => (await applied()) >= events.length / 3, {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      // Drains what it holds (the rest of the durables' backlog goes to the other replica).
      await b.stop();
      await nats.publish(events.slice(half));
      await until("every event in the graph", async () => (await applied()) === events.length, {
        timeoutMs: 90_000,
        intervalMs: 250,
      });

      assert.deepEqual(await backwardLots(a), ["FIN-1", "INT-1", "SUP-B", "SUP-A"]);
      const recall = await api(a, "/lots/SUP-A/recall?product=STEEL");
      assert.equal((recall.body.customers as unknown[]).length, 2);
      const edges = await withDb(postgres, async (db) =>
        (
          await db.query<{ edge: string; consumed: string }>(
            `SELECT parent_lot || '>' || child_lot AS edge, consumed::text AS consumed FROM ${schema}.lot_edges
             WHERE parent_lot LIKE 'BULK-%' ORDER BY 1`,
          )
        ).rows.map((r) => [r.edge, r.consumed]),
      );
      // 1200 consumptions of 0.5 kg over 4 × 3 edges: each edge 100 of them, 50 kg, added once each.
      const expected: string[][] = [];
      for (let k = 0; k < 4; k++)
        for (let j = 0; j < 3; j++) expected.push([`BULK-${k}>BULKOUT-${j}`, "50.000000"]);
      assert.deepEqual(edges, expected);

      // The graph of two writers equals the one a single reader builds from the same streams.
      const seqless = (d: Record<string, string[]>) =>
        Object.fromEntries(
          Object.entries(d).map(([t, rows]) => [t, rows.map((r) => r.replace(/"seq":"\d+",?/, ""))]),
        );
      const byTwo = await withDb(postgres, (db) => dumpGraph(db, schema));
      const c = await replica(nats, "genealogy-c", settings);
      after(() => c.stop());
      const rebuilds = await Promise.all([
        api(a, "/rebuild", { method: "POST" }),
        api(c, "/rebuild", { method: "POST" }),
      ]);
      const statuses = rebuilds.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 409], JSON.stringify(rebuilds.map((r) => r.body)));
      const refused = rebuilds.find((r) => r.status === 409)?.body.error as { code: string };
      assert.equal(refused.code, "GENEALOGY_REBUILD_RUNNING");
      const byOne = await withDb(postgres, (db) => dumpGraph(db, schema));
      assert.equal(byOne.applied_events?.length, events.length);
      assert.deepEqual(seqless(byTwo), seqless(byOne), "every table row for row");
      await c.stop();
      await a.stop();
    });
});
