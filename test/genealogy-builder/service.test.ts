/**
 * The genealogy builder as it runs: a real nats-server with the platform's declarations, the service
 * as its least-privilege NATS user on its durables and its embedded database (and on a real PostgreSQL when one is here), the plant's
 * week (fixtures/story.ts) published through the SDK. The graph follows the streams; its HTTP API
 * answers only with the token; an event the database refuses goes to the dead-letter stream with its
 * reason while the rest goes on; `rebuild` replays the streams into a fresh schema and switches over,
 * and the rebuilt graph answers exactly as the live one did — with what arrived during the rebuild.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { startService } from "../../services/genealogy-builder/src/main.js";
import { dumpGraph } from "../../services/genealogy-builder/src/store/dump.js";
import { openDatabase, type RunningService, readDeadLetter, readMessages } from "../../streams/src/index.js";
import { freshPostgresDatabase } from "../harness/postgres.js";
import { until } from "../harness/wait.js";
import { genealogyNats } from "./fixtures/nats.js";
import { STORY } from "./fixtures/story.js";

const TOKEN = "genealogy-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "threadline-genealogy-service-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A server of its own per database (the durables are the service's, whatever its database), with the
 * platform's declarations and the plant's week published on it.
 */
async function plantWeekOnNats() {
  const nats = await genealogyNats();
  await nats.publish(STORY);
  return nats;
}

const postgres = await freshPostgresDatabase();

const targets = [{ name: "embedded", url: "" }, ...(postgres ? [{ name: "PostgreSQL", url: postgres }] : [])];
const natsOf = new Map<string, Awaited<ReturnType<typeof plantWeekOnNats>>>();
for (const target of targets) natsOf.set(target.name, await plantWeekOnNats());

for (const target of targets)
  describe(`genealogy builder service (${target.name} database)`, () => {
    const schema = `genealogy_${target.name === "embedded" ? "e" : "p"}`;
    let service: RunningService;
    const nats = natsOf.get(target.name) as Awaited<ReturnType<typeof plantWeekOnNats>>;
    const api = async (path: string, init: RequestInit = {}, token: string | null = TOKEN) => {
      const res = await fetch(`${service.url}/genealogy${path}`, {
        ...init,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
      });
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown> & { lots?: unknown[] },
      };
    };

    test("follows the streams: the plant's week traced both ways over the authenticated API", async () => {
      service = await startService({
        NATS_URL: nats.server.clientUrl,
        // Its least-privilege user, as `threadline streams permissions genealogy-builder` renders it.
        NATS_USER: nats.user.user,
        NATS_PASSWORD: nats.user.pass,
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: "0",
        LOG_LEVEL: "silent",
        GENEALOGY_API_TOKEN: TOKEN,
        GENEALOGY_DATA_DIR: join(dir, target.name),
        GENEALOGY_SCHEMA: schema,
        DATABASE_URL: target.url,
      });
      await until(
        "the story in the graph",
        async () => ((await api("/lots/SUP-A/recall")).body.customers as unknown[] | undefined)?.length === 2,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const back = await api("/lots/FIN-1/trace?direction=backward");
      assert.equal(back.status, 200);
      assert.deepEqual(
        (back.body.lots as { lot: string }[]).map((l) => l.lot),
        ["FIN-1", "INT-1", "SUP-B", "SUP-A"],
      );
      const fwd = await api("/lots/SUP-A/trace?direction=forward&product=STEEL");
      assert.deepEqual(
        (fwd.body.shipments as { pickingRef: string; tracedQuantity: unknown }[]).map((s) => [
          s.pickingRef,
          s.tracedQuantity,
        ]),
        [
          ["WH/OUT/00001", { value: "1.6", uom: "kg" }],
          ["WH/OUT/00002", { value: "1.2", uom: "kg" }],
        ],
      );
      assert.equal((await api("/lots/FIN-1/trace?direction=backward", {}, null)).status, 401);
      assert.equal(
        (await api("/lots/FIN-1/trace?direction=backward", {}, "wrong-token-wrong-token")).status,
        401,
      );
      assert.equal((await api("/lots/NOPE/trace?direction=backward")).status, 404);
    });

    test("an event the database refuses is dead-lettered with its reason; the graph goes on", async () => {
      const bad = {
        id: `bad-lot-${target.name}`,
        type: "mfg.inventory.lot_registered.v1",
        value: { ...(STORY[9]?.value as object), lot: "BAD\u0000LOT" },
      } as (typeof STORY)[number];
      const following = {
        id: `after-bad-${target.name}`,
        type: "mfg.inventory.lot_registered.v1",
        value: { ...(STORY[9]?.value as object), lot: `AFTER-${target.name}` },
      } as (typeof STORY)[number];
      await nats.publish([bad, following]);
      await until(
        "the event after the refused one",
        async () => (await api(`/lots/AFTER-${target.name}/trace?direction=forward`)).status === 200,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const letters: ReturnType<typeof readDeadLetter>[] = [];
      await until(
        "the dead letter",
        async () => {
          letters.length = 0;
          for await (const m of readMessages(nats.nc, {
            stream: "MFG_DLQ",
            filter: "mfg.dlq.MFG_INVENTORY.genealogy-builder-inventory",
          }))
            letters.push(readDeadLetter(m));
          return letters.some((l) => l.headers.get("ce-id") === bad.id);
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const letter = letters.find((l) => l.headers.get("ce-id") === bad.id);
      assert.equal(letter?.code, "GENEALOGY_EVENT_UNUSABLE");
      assert.match(letter?.message ?? "", /lot_registered\.v1 bad-lot-\w+ cannot be put in the lot graph/);
    });

    test("rebuild: the streams replayed into a fresh schema, switched over; the graph answers as before, with what arrived meanwhile", async () => {
      const ask = () =>
        Promise.all([
          api("/lots/FIN-1/trace?direction=backward"),
          api("/lots/SUP-A/recall?product=STEEL"),
          api("/lots?prefix="),
        ]).then((answers) =>
          answers.map((a) => JSON.stringify(a.body, (k, v) => (k === "generatedAt" ? undefined : v))),
        );
      const before = await ask();
      const tables = target.url ? await withDb(target.url, (db) => dumpGraph(db, schema)) : undefined;
      const rebuilding = api("/rebuild", { method: "POST" });
      const late = {
        id: `late-${target.name}`,
        type: "mfg.inventory.lot_registered.v1",
        value: { ...(STORY[9]?.value as object), lot: `LATE-${target.name}` },
      } as (typeof STORY)[number];
      await nats.publish([late]);
      const rebuilt = await rebuilding;
      assert.equal(rebuilt.status, 200, JSON.stringify(rebuilt.body));
      const report = (rebuilt.body as { result: { events: number; refused: number } }).result;
      assert.equal(report.refused, 1, "the refused event, refused again");
      assert.ok(report.events >= STORY.length + 2);
      await until(
        "the event published during the rebuild",
        async () => (await api(`/lots/LATE-${target.name}/trace?direction=forward`)).status === 200,
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const afterRebuild = await ask();
      assert.deepEqual(afterRebuild.slice(0, 2), before.slice(0, 2), "traces and recall as before");
      assert.deepEqual(
        (JSON.parse(afterRebuild[2] as string).lots as { lot: string }[]).map((l) => l.lot),
        [
          ...(JSON.parse(before[2] as string).lots as { lot: string }[]).map((l) => l.lot),
          `LATE-${target.name}`,
        ].sort(),
      );
      if (tables && target.url) {
        const now = await withDb(target.url, (db) => dumpGraph(db, schema));
        const withoutLate = Object.fromEntries(
          Object.entries(now).map(([t, rows]) => [
            t,
            rows.filter((r) => !r.includes(`late-${target.name}`) && !r.includes(`LATE-${target.name}`)),
          ]),
        );
        const seqless = (d: Record<string, string[]>) =>
          Object.fromEntries(
            Object.entries(d).map(([t, rows]) => [t, rows.map((r) => r.replace(/"seq":"\d+",?/, ""))]),
          );
        assert.deepEqual(seqless(withoutLate), seqless(tables), "every table row for row");
      }
      await service.stop();
    });
  });

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
