/**
 * The genealogy's schema in a database: created and migrated to this code's version (migrations.ts),
 * rebuilt beside the live one and switched over in one transaction (`switchSchema`).
 */
import type { Database, SqlQuery } from "../../../../streams/src/index.js";
import { GenealogyError } from "../errors.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations.js";
import { quoteSchema } from "./projection.js";

/** The key of the advisory lock every projection write shares and the switch takes alone. */
export const SWITCH_LOCK = 0x7e4e_a10e;

/**
 * Creates the schema if missing and applies the migrations it lacks, each in its own transaction.
 * @returns the versions applied now
 * @throws GenealogyError GENEALOGY_SCHEMA_AHEAD when the schema has a version this code does not know
 */
export async function migrate(db: Database, schema: string): Promise<number[]> {
  const s = quoteSchema(schema);
  await db.transaction(async (tx) => {
    // IF NOT EXISTS does not hold against a creation under way in another session (the second fails on
    // the catalog's unique index, pg_type_typname_nsp_index): replicas starting at once on a fresh
    // database take turns, as for the migrations below.
    await tx.query("SELECT pg_advisory_xact_lock($1)", [SWITCH_LOCK + 1]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
        version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
  });
  const { rows } = await db.query<{ version: number }>(`SELECT version FROM ${s}.schema_migrations`);
  const have = new Set(rows.map((r) => Number(r.version)));
  const ahead = [...have].filter((v) => v > SCHEMA_VERSION);
  if (ahead.length > 0)
    throw new GenealogyError(
      "GENEALOGY_SCHEMA_AHEAD",
      `the schema ${schema} in ${db.where} is at version ${Math.max(...ahead)}, this genealogy builder knows up to ${SCHEMA_VERSION}: run the newer builder, or rebuild into a fresh schema`,
    );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (have.has(m.version)) continue;
    await db.transaction(async (tx) => {
      // Two replicas starting at once: the second waits here, then finds the version applied.
      await tx.query("SELECT pg_advisory_xact_lock($1)", [SWITCH_LOCK + 1]);
      const { rows: done } = await tx.query(`SELECT 1 FROM ${s}.schema_migrations WHERE version = $1`, [
        m.version,
      ]);
      if (done.length > 0) return;
      for (const statement of m.sql) await tx.query(statement.replaceAll("{{schema}}", s));
      await tx.query(`INSERT INTO ${s}.schema_migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    });
  }
  return applied;
}

/** Drops a schema and everything in it (a rebuild's leftovers). */
export async function dropSchema(db: SqlQuery, schema: string): Promise<void> {
  await db.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
}

/**
 * Puts `next` in the place of `live` in one transaction, while no projection write is in flight (the
 * writers hold the shared side of SWITCH_LOCK): readers see the old graph or the new one, never a mix.
 * The old schema is dropped in the same transaction. `beforeSwitch` runs inside, under the lock, to
 * apply what the live schema got since the rebuild last caught up.
 */
export async function switchSchema(
  db: Database,
  live: string,
  next: string,
  beforeSwitch: (tx: SqlQuery) => Promise<void>,
): Promise<void> {
  const old = `${live}_replaced`;
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [SWITCH_LOCK]);
    await beforeSwitch(tx);
    await tx.query(`DROP SCHEMA IF EXISTS ${quoteSchema(old)} CASCADE`);
    await tx.query(`ALTER SCHEMA ${quoteSchema(live)} RENAME TO ${quoteSchema(old)}`);
    await tx.query(`ALTER SCHEMA ${quoteSchema(next)} RENAME TO ${quoteSchema(live)}`);
    await tx.query(`DROP SCHEMA ${quoteSchema(old)} CASCADE`);
  });
}
