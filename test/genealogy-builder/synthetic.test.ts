/**
 * Specification: the synthetic plant history (tools/genealogy/synthetic.ts) is the same for the same
 * seed, its events are valid payloads of the contracts, its quantities balance, and its bulk load
 * (tools/genealogy/bulk-load.ts) writes exactly the rows the projection (applyEvents) writes from its
 * events — so a bench on bulk-loaded data measures the graph the service would have built.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Catalog, EventCodec } from "../../contracts/src/index.js";
import { applyEvents } from "../../services/genealogy-builder/src/store/projection.js";
import { migrate } from "../../services/genealogy-builder/src/store/schema.js";
import { type Database, openDatabase } from "../../streams/src/index.js";
import { type BulkLoadResult, bulkLoad, LOADED_TABLES } from "../../tools/genealogy/bulk-load.js";
import { historyEvents } from "../../tools/genealogy/synthetic.js";

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));

describe("synthetic history - seeded, valid, balanced", () => {
  test("the same seed gives the same events, ids and times; another seed another history", () => {
    const a = historyEvents({ lots: 400, seed: 42 });
    const b = historyEvents({ lots: 400, seed: 42 });
    const c = historyEvents({ lots: 400, seed: 43 });
    assert.equal(json(a.events), json(b.events));
    assert.deepEqual(a.summary, b.summary);
    assert.notEqual(json(a.events.map((e) => e.event.value)), json(c.events.map((e) => e.event.value)));
  });

  test("a history has lots of every kind, 2–4 component lots and more per order, reworks, unbuilds, holds and shipments", () => {
    const { summary, events } = historyEvents({ lots: 3000, seed: 5 });
    const lots = summary.lots.raw + summary.lots.intermediate + summary.lots.finished;
    assert.ok(lots >= 3000 && lots < 3010, `${lots} lots`);
    for (const kind of ["raw", "intermediate", "finished"] as const)
      assert.ok(summary.lots[kind] > 300, `${summary.lots[kind]} ${kind} lots`);
    assert.ok(summary.consumptions / lots > 2.5, `${summary.consumptions} edges for ${lots} lots`);
    assert.ok(summary.reworks > 0 && summary.unbuilds > 0 && summary.holds > 0 && summary.shipments > 0);
    assert.equal(events.length, summary.events);
    const ids = new Set(events.map((e) => e.event.id));
    assert.equal(ids.size, events.length, "every event id is unique");
  });

  test("every event encodes as its contract's payload (what an EventPublisher would send)", () => {
    const codec = new EventCodec({ catalog: Catalog.load() });
    const { events } = historyEvents({ lots: 3000, seed: 5 });
    const types = new Set<string>();
    for (const { event } of events) {
      codec.encode(event.type, event.value as never);
      types.add(event.type);
    }
    assert.equal(types.size, 13, [...types].join(", "));
  });
});

describe("synthetic history - bulk load = projection of its events", () => {
  const dir = mkdtempSync(join(tmpdir(), "threadline-synthetic-"));
  const options = { lots: 600, seed: 11, chunkEvents: 500 };
  let db: Database;
  let loaded: BulkLoadResult;
  before(async () => {
    db = await openDatabase({ dataDir: dir });
    await migrate(db, "bulk");
    loaded = await bulkLoad(db, "bulk", options);
  });
  after(async () => {
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const dump = async (schema: string, table: string) =>
    (
      await db.query<{ row: string }>(
        `SELECT (to_jsonb(t) - 'applied_at')::text AS row FROM "${schema}".${table} t ORDER BY 1`,
      )
    ).rows.map((r) => r.row);

  test("the tables bulk-loaded and the tables projected from the same history hold the same rows", async () => {
    await migrate(db, "projected");
    const { events } = historyEvents(options);
    for (let i = 0; i < events.length; i += 400)
      await db.transaction((tx) =>
        applyEvents(
          tx,
          "projected",
          events.slice(i, i + 400).map((e) => e.event),
        ),
      );
    assert.equal(loaded.summary.events, events.length);
    const { unbuilds, reworks, holds } = loaded.summary;
    assert.ok(unbuilds > 0 && reworks > 0 && holds > 0, "the comparison covers unbuilds, reworks and holds");
    for (const table of LOADED_TABLES) {
      const bulk = await dump("bulk", table);
      const projected = await dump("projected", table);
      assert.ok(bulk.length > 0, `${table} has rows`);
      assert.equal(bulk.length, loaded.rows[table], `${table}: rows counted`);
      assert.deepEqual(bulk, projected, `${table}: the same rows`);
    }
  });

  test("no lot gives more than was received or produced of it (net of unbuilds), deliveries included", async () => {
    const { rows } = await db.query<{ product: string; lot: string; came: string; went: string }>(
      `WITH came AS (SELECT product, lot, sum(quantity) AS q FROM bulk.movements
                     WHERE type IN ('RECEIPT', 'PRODUCTION') GROUP BY 1, 2),
            used AS (SELECT parent_product AS product, parent_lot AS lot, sum(consumed - returned) AS q
                     FROM bulk.lot_edges GROUP BY 1, 2),
            shipped AS (SELECT product, lot, sum(quantity) AS q FROM bulk.movements
                        WHERE type = 'DELIVERY' GROUP BY 1, 2)
       SELECT l.product, l.lot, coalesce(c.q, 0)::text AS came,
              (coalesce(u.q, 0) + coalesce(s.q, 0))::text AS went
       FROM bulk.lots l LEFT JOIN came c USING (product, lot) LEFT JOIN used u USING (product, lot)
         LEFT JOIN shipped s USING (product, lot)
       WHERE coalesce(u.q, 0) + coalesce(s.q, 0) > coalesce(c.q, 0) OR c.q IS NULL`,
    );
    assert.deepEqual(rows, []);
  });
});
