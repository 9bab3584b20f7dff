/**
 * `threadline genealogy rebuild` (POST /genealogy/rebuild): the lot graph built again from the streams
 * into a fresh schema beside the live one, then put in its place in one transaction.
 *
 * 1. `<schema>_rebuild` is dropped if a failed rebuild left it, created and migrated.
 * 2. Each source stream is read from its first message to what it held when the read started, and
 *    every genealogy event applied (the same projection as the live consumers; batches of 500).
 * 3. Each stream is read again from where the first read ended (what arrived meanwhile).
 * 4. The switch (schema.ts `switchSchema`): under the lock every live write shares, the streams are
 *    read one last time to their end, then the schemas trade places and the old one is dropped —
 *    readers see the old graph or the new one, never a mix, and nothing the live consumers applied
 *    is missing from the new one (the last catch-up ran while they could not write).
 *
 * A message that is not a readable event, or an event the database refuses, is skipped and counted
 * (the live consumers dead-lettered it; the report says how many). Whatever fails before the switch
 * leaves the live graph as it was and drops the partial schema.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { EventCodec } from "../../../contracts/src/index.js";
import {
  type Database,
  decodeMessage,
  type Logger,
  readMessages,
  type SqlQuery,
} from "../../../streams/src/index.js";
import { GenealogyError } from "./errors.js";
import { GENEALOGY_SOURCES } from "./manifest.js";
import { applyEvents, isGenealogyEvent, type ProjectedEvent, quoteSchema } from "./store/projection.js";
import { dropSchema, migrate, switchSchema } from "./store/schema.js";
import { refusedByDatabase } from "./store/writer.js";

export interface RebuildReport {
  readonly schema: string;
  /** Genealogy events read from the streams. */
  readonly events: number;
  /** Messages skipped: not readable as events, or refused by the database. */
  readonly unreadable: number;
  readonly refused: number;
  /** Events the live graph had that the streams no longer hold (expired, or only redriven): lost by the rebuild. */
  readonly liveOnly: number;
  readonly durationMs: number;
}

export interface RebuildDeps {
  readonly db: Database;
  readonly nc: NatsConnection;
  readonly codec: EventCodec;
  /** The live schema. */
  readonly schema: string;
  readonly logger: Logger;
}

const BATCH = 500;

/** Rebuilds the graph; see the module comment. @throws GenealogyError GENEALOGY_REBUILD_FAILED */
export async function rebuildGraph(deps: RebuildDeps): Promise<RebuildReport> {
  const { db, schema, logger } = deps;
  const next = `${schema}_rebuild`;
  const started = performance.now();
  const counts = { events: 0, unreadable: 0, refused: 0 };
  const readTo = new Map<string, number>();
  try {
    await dropSchema(db, next);
    await migrate(db, next);
    logger.info({ schema: next }, "rebuild: reading the streams");
    await readSources(deps, readTo, counts, (batch) => applyBatch(db, next, batch, counts));
    await readSources(deps, readTo, counts, (batch) => applyBatch(db, next, batch, counts));
    let liveOnly = 0;
    await switchSchema(db, schema, next, async (tx) => {
      await readSources(deps, readTo, counts, (batch) => applyBatch(tx, next, batch, counts));
      const { rows } = await tx.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${quoteSchema(schema)}.applied_events a
         WHERE NOT EXISTS (SELECT 1 FROM ${quoteSchema(next)}.applied_events b WHERE b.event_id = a.event_id)`,
      );
      liveOnly = Number(rows[0]?.n ?? 0);
    });
    const report = { schema, ...counts, liveOnly, durationMs: Math.round(performance.now() - started) };
    logger.info(report, "rebuild: the rebuilt graph is live");
    return report;
  } catch (err) {
    await dropSchema(db, next).catch(() => undefined);
    throw new GenealogyError(
      "GENEALOGY_REBUILD_FAILED",
      `the rebuild stopped before switching over (the live graph is unchanged): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * The rebuild, alone among every replica writing this graph: two would drop and fill the same
 * `<schema>_rebuild` under each other. On a server, a transaction holds an advisory lock named after
 * the schema for as long as the rebuild runs (the server lets it go if the replica dies); the embedded
 * database belongs to one process, whose one-at-a-time guard (main.ts) is enough.
 * @throws GenealogyError GENEALOGY_REBUILD_RUNNING when another replica is rebuilding it
 */
export async function rebuildAlone(deps: RebuildDeps): Promise<RebuildReport> {
  if (deps.db.embedded) return rebuildGraph(deps);
  return deps.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ alone: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext($1)) AS alone",
      [`genealogy-rebuild:${deps.schema}`],
    );
    if (rows[0]?.alone !== true)
      throw new GenealogyError(
        "GENEALOGY_REBUILD_RUNNING",
        `another replica is rebuilding ${deps.schema}: nothing was started; wait for it to finish`,
      );
    return rebuildGraph(deps);
  });
}

/** Reads every source from past `readTo` to its end, handing the genealogy events over in batches. */
async function readSources(
  deps: RebuildDeps,
  readTo: Map<string, number>,
  counts: { events: number; unreadable: number },
  apply: (batch: ProjectedEvent[]) => Promise<void>,
): Promise<void> {
  for (const source of GENEALOGY_SOURCES) {
    const from = (readTo.get(source.stream) ?? 0) + 1;
    let batch: ProjectedEvent[] = [];
    for await (const m of readMessages(deps.nc, {
      stream: source.stream,
      filter: source.filter,
      fromSequence: from,
      cleanup: "expire",
      ifMissing: "empty",
    })) {
      readTo.set(source.stream, m.seq);
      if (!isGenealogyEvent(m.headers?.get("ce-type") ?? "")) continue;
      try {
        const e = await decodeMessage(deps.codec, m);
        batch.push({ id: e.id, stream: e.stream, seq: e.streamSequence, type: e.type, value: e.value });
        counts.events++;
      } catch {
        counts.unreadable++;
      }
      if (batch.length >= BATCH) {
        await apply(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await apply(batch);
  }
}

/** One batch in one transaction; when the database refuses one of them, each alone (the refused skipped). */
async function applyBatch(
  db: SqlQuery | Database,
  schema: string,
  batch: readonly ProjectedEvent[],
  counts: { refused: number },
): Promise<void> {
  const inTransaction = async (events: readonly ProjectedEvent[]) => {
    if ("transaction" in db) await db.transaction((tx) => applyEvents(tx, schema, events));
    else {
      // Already inside the switch's transaction: a savepoint keeps one refusal from aborting it.
      await db.query("SAVEPOINT rebuild_batch");
      try {
        await applyEvents(db, schema, events);
        await db.query("RELEASE SAVEPOINT rebuild_batch");
      } catch (err) {
        await db.query("ROLLBACK TO SAVEPOINT rebuild_batch");
        throw err;
      }
    }
  };
  try {
    await inTransaction(batch);
  } catch (err) {
    if (!refusedByDatabase(err)) throw err;
    for (const e of batch)
      await inTransaction([e]).catch((one: unknown) => {
        if (!refusedByDatabase(one)) throw one;
        counts.refused++;
      });
  }
}
