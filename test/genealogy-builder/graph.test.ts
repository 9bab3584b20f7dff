/**
 * The lot graph, as a quality engineer asks it, on the embedded database and on a real PostgreSQL
 * (the same SQL): the events of a plant's week (fixtures/story.ts) give a graph that does not depend
 * on their order, duplicates or replays; the backward trace of a finished lot names its component
 * lots, supplier lots, orders and machines; the forward trace of a supplier lot reaches the lots made
 * from it, the shipments and the customers, with how much of it each holds (mass balance); depth and
 * time limits hold; a rework loop ends; an unbuilt edge is not followed; the recall report says whom
 * to call, what to block and what is held; bad questions get errors that say what is wrong; an event
 * the database refuses fails alone.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { GenealogyError } from "../../services/genealogy-builder/src/errors.js";
import { GenealogyQueries } from "../../services/genealogy-builder/src/query/queries.js";
import { dumpGraph } from "../../services/genealogy-builder/src/store/dump.js";
import type { ProjectedEvent } from "../../services/genealogy-builder/src/store/projection.js";
import { migrate } from "../../services/genealogy-builder/src/store/schema.js";
import { ProjectionWriter } from "../../services/genealogy-builder/src/store/writer.js";
import { type Database, openDatabase } from "../../streams/src/index.js";
import { freshPostgresDatabase, postgresUnavailableReason } from "../harness/postgres.js";
import { STORY, type StoryEvent, shuffledWithDuplicates } from "./fixtures/story.js";

const STREAM_OF: Record<string, string> = {
  inventory: "MFG_INVENTORY",
  production: "MFG_PRODUCTION",
  quality: "MFG_QUALITY",
  shipping: "MFG_SHIPPING",
  masterdata: "MFG_MASTERDATA",
};
/** Each event where the stream stored it (its place in the story), however it is delivered. */
const SEQ = new Map(STORY.map((e, i) => [e.id, i + 1]));
const projected = (events: readonly StoryEvent[]): ProjectedEvent[] =>
  events.map((e) => ({
    id: e.id,
    stream: STREAM_OF[e.type.split(".")[1] ?? ""] ?? "?",
    seq: SEQ.get(e.id) ?? 0,
    type: e.type,
    value: e.value,
  }));

const dir = mkdtempSync(join(tmpdir(), "threadline-genealogy-graph-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const postgres = await freshPostgresDatabase();

const targets: { name: string; url?: string }[] = [
  { name: "embedded PostgreSQL (PGlite)" },
  ...(postgres ? [{ name: "PostgreSQL server", url: postgres }] : []),
];
if (!postgres)
  test(`PostgreSQL server: not tested here (${postgresUnavailableReason}); the embedded default was`, () => {});

for (const target of targets)
  describe(`genealogy on ${target.name}`, () => {
    let db: Database;
    let q: GenealogyQueries;
    let schemas = 0;
    /** A fresh schema holding `events`, written as the service writes them (batches through the writer). */
    const build = async (events: readonly StoryEvent[], batch = 7): Promise<string> => {
      const schema = `g${++schemas}`;
      await migrate(db, schema);
      const writer = new ProjectionWriter(db, schema, { maxBatch: batch });
      await Promise.all(projected(events).map((e) => writer.write(e)));
      return schema;
    };

    before(async () => {
      db = await openDatabase({ url: target.url, dataDir: join(dir, `db-${target.url ? "pg" : "lite"}`) });
      q = new GenealogyQueries(db, await build(STORY));
    });
    after(() => db?.close());

    test("events in any order, some twice, give the same graph as in order", async () => {
      const inOrder = await dumpGraph(db, "g1");
      for (const seed of [1, 2, 3, 4, 5]) {
        const schema = await build(shuffledWithDuplicates(seed), 1 + seed * 3);
        assert.deepEqual(await dumpGraph(db, schema), inOrder, `seed ${seed}`);
      }
      assert.equal(inOrder.applied_events?.length, STORY.length, "each event applied once");
    });

    test("backward trace of a finished lot: component lots, supplier lots, orders, machines, quantities", async () => {
      const t = await q.trace(await q.resolveLot("FIN-1"), { direction: "backward" });
      assert.deepEqual(
        t.lots.map((l) => [l.product, l.lot, l.depth]),
        [
          ["BIKE", "FIN-1", 0],
          ["FRAME", "INT-1", 1],
          ["PAINT", "SUP-B", 1],
          ["STEEL", "SUP-A", 2],
        ],
      );
      assert.deepEqual(
        t.supplierLots.map((s) => [s.lot.lot, s.supplierLot]),
        [
          ["SUP-B", "PNT-55"],
          ["SUP-A", "MILL-778"],
        ],
      );
      assert.deepEqual(
        t.orders.map((o) => o.orderRef),
        ["WH/MO/00001", "WH/MO/00002"],
      );
      const lot = (name: string) => t.lots.find((l) => l.lot === name);
      assert.deepEqual(
        lot("FIN-1")?.machines.map((m) => [m.line, m.machine, m.good?.value]),
        [["line2", "assembly1", "10"]],
      );
      assert.deepEqual(
        lot("INT-1")?.machines.map((m) => m.machine),
        ["welder1"],
      );
      assert.deepEqual(lot("FIN-1")?.quantity, { value: "10", uom: "Units" });
      assert.deepEqual(lot("SUP-A")?.quantity, { value: "100", uom: "kg" }, "received");
      const steel = t.edges.find((e) => e.from.lot === "SUP-A");
      assert.deepEqual([steel?.net, steel?.uom, steel?.orders], ["10", "kg", ["WH/MO/00001"]]);
      assert.equal(steel?.events.length, 1, "the edge names the event it came from");
      assert.equal(t.truncated, false);
    });

    test("forward trace of a supplier lot: lots made from it, shipments, customers, and how much of it each holds", async () => {
      const t = await q.trace({ product: "STEEL", lot: "SUP-A" }, { direction: "forward" });
      assert.deepEqual(
        t.lots.map((l) => [l.lot, l.depth, l.status]),
        [
          ["SUP-A", 0, "IN_STOCK"],
          ["INT-1", 1, "IN_STOCK"],
          ["FIN-1", 2, "IN_STOCK"],
          ["FIN-2", 2, "ON_HOLD"],
        ],
        "FIN-3 was unbuilt: its edge gives nothing back to follow",
      );
      assert.deepEqual(t.massBalance, {
        "STEEL/SUP-A": { value: "100", uom: "kg" },
        "FRAME/INT-1": { value: "10", uom: "kg" },
        "BIKE/FIN-1": { value: "4", uom: "kg" },
        "BIKE/FIN-2": { value: "2", uom: "kg" },
      });
      assert.deepEqual(
        t.shipments.map((s) => [s.pickingRef, s.status, s.customerRef, s.customerName, s.tracedQuantity]),
        [
          ["WH/OUT/00001", "SHIPPED", "ACME", "Acme Cycles", { value: "1.6", uom: "kg" }],
          ["WH/OUT/00002", "BLOCKED", "BETA", "Beta Bikes", { value: "1.2", uom: "kg" }],
        ],
      );
      assert.deepEqual(
        t.customers.map((c) => [c.customerRef, c.tracedQuantity?.value]),
        [
          ["ACME", "1.6"],
          ["BETA", "1.2"],
        ],
      );
      assert.equal(t.cyclesSkipped, 1, "FIN-2 reworked into itself: one loop edge, walked once");
      assert.deepEqual(t.lots.find((l) => l.lot === "FIN-1")?.stock, [
        { location: "WH/Stock", quantity: { value: "6", uom: "Units" } },
      ]);
    });

    test("depth limit and time window", async () => {
      const shallow = await q.trace({ product: "STEEL", lot: "SUP-A" }, { direction: "forward", depth: 1 });
      assert.deepEqual(
        shallow.lots.map((l) => l.lot),
        ["SUP-A", "INT-1"],
      );
      assert.equal(shallow.truncated, true, "it says the graph goes further");
      const early = await q.trace(
        { product: "FRAME", lot: "INT-1" },
        { direction: "forward", until: new Date(Date.UTC(2026, 10, 5)) },
      );
      assert.deepEqual(
        early.lots.map((l) => l.lot),
        ["INT-1", "FIN-1"],
        "FIN-2 was made after the window",
      );
    });

    test("recall report: customers to call with quantities, lots to block, lots already held", async () => {
      const r = await q.recall({ product: "STEEL", lot: "SUP-A" });
      assert.equal(r.lotsAffected, 4);
      assert.deepEqual(
        r.customers.map((c) => [c.customerRef, c.name, c.shipments, c.tracedQuantity]),
        [
          ["ACME", "Acme Cycles", ["WH/OUT/00001"], { value: "1.6", uom: "kg" }],
          ["BETA", "Beta Bikes", ["WH/OUT/00002"], { value: "1.2", uom: "kg" }],
        ],
      );
      assert.deepEqual(
        r.toBlock.map((b) => [
          b.lot,
          b.stock.map((s) => `${s.quantity.value} ${s.quantity.uom} at ${s.location}`),
          b.tracedQuantity?.value,
        ]),
        [
          ["SUP-A", ["90 kg at WH/Stock"], "100"],
          ["INT-1", ["2 Units at WH/Stock"], "10"],
          ["FIN-1", ["6 Units at WH/Stock"], "4"],
        ],
      );
      assert.deepEqual(
        r.onHold.map((h) => [h.lot, h.holds.map((x) => [x.holdId, x.reason, x.placedBy])]),
        [["FIN-2", [["H-1", "torque out of spec", "quality-service"]]]],
      );
    });

    test("where-used and lot lookup", async () => {
      const used = await q.whereUsed("FRAME", "INT-1");
      assert.deepEqual(used.map((u) => [u.produced.lot, u.net.value]).sort(), [
        ["FIN-1", "2"],
        ["FIN-2", "1"],
      ]);
      assert.deepEqual(
        (await q.findLots("FIN-")).map((l) => l.lot),
        ["FIN-1", "FIN-2", "FIN-3"],
      );
      assert.deepEqual(await q.findLots("%"), [], "a LIKE wildcard is a character, not a pattern");
    });

    test("bad questions: an unknown lot, an ambiguous lot, a depth or window out of range", async () => {
      await assert.rejects(
        q.resolveLot("NOPE"),
        (e: GenealogyError) => e.code === "GENEALOGY_LOT_UNKNOWN" && /no lot "NOPE"/.test(e.message),
      );
      const schema = await build([
        ...STORY,
        {
          ...(STORY.find((e) => e.type === "mfg.inventory.lot_registered.v1") as StoryEvent),
          id: "dup-lot",
          value: { ...(STORY[9]?.value as object), product: { code: "PAINT", name: null, odooId: null } },
        } as StoryEvent,
      ]);
      const q2 = new GenealogyQueries(db, schema);
      await assert.rejects(q2.resolveLot("SUP-A"), (e: GenealogyError) => {
        assert.equal(e.code, "GENEALOGY_LOT_AMBIGUOUS");
        assert.deepEqual((e.details as { candidates: unknown }).candidates, [
          { product: "PAINT", lot: "SUP-A" },
          { product: "STEEL", lot: "SUP-A" },
        ]);
        return true;
      });
      assert.deepEqual(await q2.resolveLot("SUP-A", "STEEL"), { product: "STEEL", lot: "SUP-A" });
      const root = { product: "STEEL", lot: "SUP-A" };
      for (const depth of [0, 51, 2.5])
        await assert.rejects(
          q.trace(root, { direction: "forward", depth }),
          /depth must be a whole number from 1 to 50/,
        );
      await assert.rejects(
        q.trace(root, { direction: "forward", since: new Date("2026-11-05"), until: new Date("2026-11-04") }),
        (e: GenealogyError) =>
          e.code === "GENEALOGY_QUERY_INVALID" && /since .* is after until/.test(e.message),
      );
    });

    test("an event the database refuses fails alone, as a permanent error naming it; the rest of its batch is written", async () => {
      const schema = `g${++schemas}`;
      await migrate(db, schema);
      const writer = new ProjectionWriter(db, schema, { maxBatch: 50 });
      const bad = {
        ...(STORY[10] as StoryEvent),
        id: "bad-quantity",
        value: { ...(STORY[10]?.value as object), quantity: { value: "12..5", uom: "kg" } },
      } as StoryEvent;
      const results = await Promise.allSettled(
        projected([...STORY.slice(0, 10), bad, ...STORY.slice(10)]).map((e) => writer.write(e)),
      );
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [[i, r.reason]] : []));
      assert.equal(failed.length, 1);
      const [index, reason] = failed[0] as [number, { code: string; retryable: boolean; message: string }];
      assert.equal(index, 10);
      assert.equal(reason.code, "GENEALOGY_EVENT_UNUSABLE");
      assert.equal(reason.retryable, false);
      assert.match(reason.message, /goods_movement_posted\.v1 bad-quantity cannot be put in the lot graph/);
      assert.equal((await dumpGraph(db, schema)).applied_events?.length, STORY.length);
    });
  });
