/**
 * Where the genealogy builder keeps its graph in the chaos suite. Its replicas share one graph only on
 * a PostgreSQL server (services/genealogy-builder/src/embedded-owner.ts: on the embedded database a
 * second replica is refused at start, since two graphs would each miss what the other applied). So
 * the suite runs the production topology when a server is at hand — the one CI and development
 * machines run on 127.0.0.1:5432 (trust auth), a database of its own created for the run and dropped
 * after it — and says so when there is none: then one replica, on the embedded database.
 */
import { openDatabase } from "../../streams/src/index.js";

/** The server CI and development machines run (DESIGN.md, "Testing"). */
const LOCAL_SERVER = "postgres://postgres@127.0.0.1:5432";

export type GenealogyDatabase =
  | { readonly url: string; drop(): Promise<void> }
  | { readonly url: undefined; readonly why: string };

/** A fresh database for the run's graph on the local PostgreSQL, or why there is none. */
export async function genealogyDatabase(): Promise<GenealogyDatabase> {
  const name = `threadline_chaos_${process.pid}_${Date.now()}`;
  const adminOf = () =>
    openDatabase({ url: `${LOCAL_SERVER}/postgres`, dataDir: "", connectTimeoutMs: 2_000, poolSize: 1 });
  let admin: Awaited<ReturnType<typeof adminOf>>;
  try {
    admin = await adminOf();
  } catch (err) {
    return { url: undefined, why: `no PostgreSQL at 127.0.0.1:5432 (${(err as Error).message})` };
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  return {
    url: `${LOCAL_SERVER}/${name}`,
    drop: async () => {
      const a = await adminOf();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.close();
      }
    },
  };
}
