/**
 * The SQL side of `threadline tap --sql`: one table of events keyed by event id, and the tap's position,
 * in PostgreSQL (a server through a `postgres://` URL, with node-postgres) or in an embedded PostgreSQL
 * (PGlite: PostgreSQL compiled to WASM, persisted in a data directory) — the same SQL both ways.
 *
 * - The events table (created if missing): `id text primary key` (ce-id), `seq bigint`, `stored_at
 *   timestamptz`, `type text`, `subject text` (ce-subject: the business key), `time timestamptz`,
 *   `source text`, `schema_version int`, `data jsonb` (the payload as `toJson` renders it: decimals as
 *   exact strings, see tools/tap/rows.ts). Rows are inserted `ON CONFLICT (id) DO NOTHING`, so a replay
 *   or a restart never duplicates an event.
 * - The position: `threadline_tap_positions (tap text primary key, stream text, last_seq bigint,
 *   updated_at timestamptz)`, one row per tap. A batch of rows and the position after it are written
 *   in ONE transaction: the table never holds events past the position, nor the position past the
 *   events, so a restart from `last_seq + 1` loses and duplicates nothing.
 * - The embedded database belongs to one process at a time (PGlite has no locking of its own): a
 *   `threadline-tap.lock` file holding the owner's pid guards it; one left by a process that is gone is
 *   taken over.
 */
import { type Database, openDatabase, type SqlQuery } from "../../streams/src/index.js";
import type { TapRecord } from "./rows.js";

/** Where the embedded database lives when no URL is given (relative to the working directory). */
export const SQL_TAP_DEFAULTS = {
  /** @default ".threadline/tap-db" */
  dataDir: ".threadline/tap-db",
  /** Rows per transaction at most. @default 500 */
  batchRows: 500,
  /** A partial batch is committed after this long. @default 1000 */
  batchMs: 1000,
  /** How long to wait for a PostgreSQL server to answer. @default 5000 */
  connectTimeoutMs: 5000,
} as const;

/** The positions table's name. */
export const POSITIONS_TABLE = "threadline_tap_positions";

/** Where a tap's rows go: a PostgreSQL URL, or (without one) the embedded database in `dataDir`. */
export interface SqlTarget {
  /** `postgres://…` or `postgresql://…`; unset: the embedded database. */
  readonly url?: string | undefined;
  /** The embedded database's directory. @default SQL_TAP_DEFAULTS.dataDir */
  readonly dataDir?: string | undefined;
}

/** A tap's position: the stream it reads and the last sequence committed with its rows. */
export interface TapPosition {
  readonly stream: string;
  readonly lastSeq: number;
}

/**
 * `name` or `schema.name`, each part a SQL identifier (letters, digits, `_`, not starting with a
 * digit), as a quoted identifier; undefined when it is not one.
 */
export function quoteTable(name: string): string | undefined {
  const parts = name.split(".");
  if (parts.length > 2 || !parts.every((p) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(p))) return undefined;
  return parts.map((p) => `"${p}"`).join(".");
}

/** An open events table and its tap's position. */
export class SqlTap {
  private constructor(
    private readonly sql: Database,
    private readonly table: string,
    /** The tap's name: its row in the positions table. */
    readonly name: string,
    /** Where it is, for messages: the URL without its password, or the data directory. */
    readonly where: string,
  ) {}

  /**
   * Opens the database (connecting to the server, or opening/creating the embedded one) and creates
   * the events table and the positions table if missing.
   * @throws Error when the server cannot be reached or refuses, or the data directory cannot be used
   */
  static async open(target: SqlTarget, table: string, name: string): Promise<SqlTap> {
    const quoted = quoteTable(table);
    if (!quoted) throw new Error(`not a table name: ${JSON.stringify(table)}`);
    const sql = await openDatabase({
      url: target.url,
      dataDir: target.dataDir ?? SQL_TAP_DEFAULTS.dataDir,
      owner: "threadline-tap",
      poolSize: 1,
      connectTimeoutMs: SQL_TAP_DEFAULTS.connectTimeoutMs,
    });
    const tap = new SqlTap(sql, quoted, name, sql.where);
    try {
      await sql.query(
        `CREATE TABLE IF NOT EXISTS ${quoted} (
          id text PRIMARY KEY, seq bigint NOT NULL, stored_at timestamptz NOT NULL, type text NOT NULL,
          subject text NOT NULL, time timestamptz NOT NULL, source text NOT NULL, schema_version int,
          data jsonb NOT NULL)`,
      );
      await sql.query(
        `CREATE TABLE IF NOT EXISTS ${POSITIONS_TABLE} (
          tap text PRIMARY KEY, stream text NOT NULL, last_seq bigint NOT NULL, updated_at timestamptz NOT NULL)`,
      );
    } catch (err) {
      await sql.close().catch(() => undefined);
      throw err;
    }
    return tap;
  }

  /** The tap's position, undefined before its first commit. */
  async position(): Promise<TapPosition | undefined> {
    const { rows } = await this.sql.query(
      `SELECT stream, last_seq::text AS last_seq FROM ${POSITIONS_TABLE} WHERE tap = $1`,
      [this.name],
    );
    const [row] = rows;
    return row ? { stream: String(row.stream), lastSeq: Number(row.last_seq) } : undefined;
  }

  /**
   * Inserts `records` (those already there, by id, are left as they are) and moves the position to
   * `lastSeq`, in one transaction. `lastSeq` may be past the last record: skipped messages count as read.
   * @returns how many rows were new
   */
  async commit(records: readonly TapRecord[], stream: string, lastSeq: number): Promise<number> {
    return this.sql.transaction(async (tx) => {
      let inserted = 0;
      for (let i = 0; i < records.length; i += SQL_TAP_DEFAULTS.batchRows)
        inserted += await this.insert(tx, records.slice(i, i + SQL_TAP_DEFAULTS.batchRows));
      await tx.query(
        `INSERT INTO ${POSITIONS_TABLE} (tap, stream, last_seq, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (tap) DO UPDATE SET stream = EXCLUDED.stream, last_seq = EXCLUDED.last_seq,
         updated_at = EXCLUDED.updated_at`,
        [this.name, stream, lastSeq],
      );
      return inserted;
    });
  }

  async close(): Promise<void> {
    await this.sql.close();
  }

  private async insert(tx: SqlQuery, records: readonly TapRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const params: unknown[] = [];
    const values = records.map((r) => {
      const at = params.length;
      params.push(r.id, r.seq, r.storedAt, r.type, r.subject, r.time, r.source, r.schemaVersion);
      params.push(JSON.stringify(r.data));
      const p = (n: number) => `$${at + n}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}::jsonb)`;
    });
    const { rows } = await tx.query(
      `INSERT INTO ${this.table} (id, seq, stored_at, type, subject, time, source, schema_version, data)
       VALUES ${values.join(", ")} ON CONFLICT (id) DO NOTHING RETURNING id`,
      params,
    );
    return rows.length;
  }
}
