/**
 * A SQL database for what keeps a relational projection (the genealogy builder, `threadline tap --sql`):
 * PostgreSQL through a `postgres://` URL (node-postgres, a pool), or without one an embedded PostgreSQL
 * (PGlite: PostgreSQL compiled to WASM, persisted in a data directory) — the same SQL both ways.
 *
 * The embedded database belongs to one process at a time (PGlite has no locking of its own): a lock
 * file holding the owner's pid guards its directory; one left by a process that is gone is taken over.
 * PGlite is one connection: its transactions run one after the other (its own mutex), which is what a
 * pool of one would give; a server gets a real pool, so reads do not wait behind a writer.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Runs one statement. */
export interface SqlQuery {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<{ rows: R[] }>;
}

/** An open database: statements, transactions, and where it is. */
export interface Database extends SqlQuery {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlQuery) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Where it is, for messages: the URL without its password, or the data directory. */
  readonly where: string;
  /** True for the embedded database. */
  readonly embedded: boolean;
}

/** Where a database is: a PostgreSQL URL, or (without one) the embedded database in `dataDir`. */
export interface DatabaseTarget {
  /** `postgres://…` or `postgresql://…`; unset or empty: the embedded database. */
  readonly url?: string | undefined;
  /** The embedded database's directory (created when missing). */
  readonly dataDir: string;
  /** Names the lock file in the data directory, and who holds it in the error. @default "threadline" */
  readonly owner?: string;
  /** Connections to a server at most. @default 4 */
  readonly poolSize?: number;
  /** How long to wait for a server to answer. @default 5000 */
  readonly connectTimeoutMs?: number;
}

/** Checks a database URL before anything is opened: undefined when fine, else what is wrong. */
export function checkDatabaseUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL (expected postgres://user@host:5432/database)";
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
    return `must start with postgres:// or postgresql:// (got ${parsed.protocol}//)`;
  if (!parsed.hostname) return "has no host (expected postgres://user@host:5432/database)";
  return undefined;
}

/** A URL as it may be shown: without its password. */
export function redactDatabaseUrl(url: string): string {
  try {
    const shown = new URL(url);
    shown.password = "";
    return String(shown);
  } catch {
    return "(not a URL)";
  }
}

/**
 * Opens the database: connects to the server (one connection is tried at once, so an unreachable
 * server fails here), or opens/creates the embedded one.
 * @throws Error naming the URL (without its password) or the directory, and what went wrong
 */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  return target.url ? connectServer(target, target.url) : openEmbedded(target);
}

async function connectServer(target: DatabaseTarget, url: string): Promise<Database> {
  const problem = checkDatabaseUrl(url);
  if (problem) throw new Error(`the database URL ${problem}`);
  const where = redactDatabaseUrl(url);
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({
    connectionString: url,
    max: target.poolSize ?? 4,
    connectionTimeoutMillis: target.connectTimeoutMs ?? 5000,
  });
  // A connection lost while idle is reported by the next query; this only keeps it from crashing the process.
  pool.on("error", () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot connect to ${where}: ${(err as Error).message || String(err)}`, { cause: err });
  }
  const run = (q: { query: typeof pool.query }) => ({
    query: async (text: string, params?: readonly unknown[]) =>
      // biome-ignore lint/suspicious/noExplicitAny: node-postgres' row type is any; callers type it
      (await q.query(text, params as unknown[])) as { rows: any[] },
  });
  return {
    ...run(pool),
    where,
    embedded: false,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await fn(run(client as never));
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function openEmbedded(target: DatabaseTarget): Promise<Database> {
  const dir = resolve(target.dataDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new Error(`cannot create the data directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const owner = target.owner ?? "threadline";
  const unlock = lockDataDir(dir, owner);
  const { PGlite } = await import("@electric-sql/pglite");
  let db: InstanceType<typeof PGlite>;
  try {
    db = await PGlite.create({ dataDir: dir });
  } catch (err) {
    unlock();
    throw new Error(`cannot open the embedded database in ${dir}: ${(err as Error).message || String(err)}`, {
      cause: err,
    });
  }
  return {
    query: async (text, params) => db.query(text, params as unknown[]),
    transaction: (fn) =>
      db.transaction((tx) => fn({ query: async (text, params) => tx.query(text, params as unknown[]) })),
    where: `${dir} (embedded PostgreSQL)`,
    embedded: true,
    close: async () => {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * Takes the data directory for this process, or throws naming the live process that holds it.
 * @returns the release
 */
function lockDataDir(dir: string, owner: string): () => void {
  const file = join(dir, `${owner}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const pid = Number(readFileSync(file, "utf8").trim());
    if (Number.isSafeInteger(pid) && pid > 0 && alive(pid))
      throw new Error(
        `the embedded database in ${dir} is in use by process ${pid} (one ${owner} at a time per data directory; give this one another directory, or use a PostgreSQL server through DATABASE_URL)`,
      );
    rmSync(file, { force: true }); // left by a process that is gone
  }
  throw new Error(`cannot lock the embedded database in ${dir}: another process keeps taking it`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
