/**
 * A real PostgreSQL for the tests that keep a SQL projection: the server on 127.0.0.1:5432 when one
 * answers (CI and development machines run one); else, when PostgreSQL is installed but not running, a
 * private server started here in a temporary directory on a free port (as the `postgres` user when
 * the tests run as root: PostgreSQL refuses to run as root) and stopped at exit; else none — the test
 * runs on the embedded default only and says so.
 *
 * Each caller gets its own database (`threadline_test_<pid>_<n>`), dropped when the process ends, so
 * tests never see each other's tables nor what someone left in `test`.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import pg from "pg";

const SHARED = "postgres://postgres@127.0.0.1:5432";
let server: Promise<string | undefined> | undefined;
let made = 0;

/** Why there is no server (for the test's diagnostic), when there is none. */
export let postgresUnavailableReason = "";

/** A fresh database's URL on a real PostgreSQL, or undefined when none can be had here. */
export async function freshPostgresDatabase(): Promise<string | undefined> {
  server ??= findOrStartServer();
  const base = await server;
  if (!base) return undefined;
  const name = `threadline_test_${process.pid}_${++made}`;
  await admin(base, `CREATE DATABASE ${name}`);
  after(async () => {
    await admin(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
  });
  return `${base}/${name}`;
}

async function admin(base: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${base}/postgres`, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function answers(base: string): Promise<boolean> {
  try {
    await admin(base, "SELECT 1");
    return true;
  } catch {
    return false;
  }
}

async function findOrStartServer(): Promise<string | undefined> {
  if (await answers(SHARED)) return SHARED;
  const bin = installedBin();
  if (!bin) {
    postgresUnavailableReason = "no PostgreSQL answers on 127.0.0.1:5432 and none is installed";
    return undefined;
  }
  try {
    return await startPrivate(bin);
  } catch (err) {
    postgresUnavailableReason = `PostgreSQL is installed (${bin}) but could not be started: ${(err as Error).message}`;
    return undefined;
  }
}

/** The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
function installedBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => existsSync(join(root, d, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], "bin") : undefined;
}

async function startPrivate(bin: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "threadline-pg-"));
  const asRoot = userInfo().uid === 0;
  const run = (cmd: string, args: string[]) =>
    asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const [initCmd, initArgs] = run(join(bin, "initdb"), [
    "-D",
    join(dir, "data"),
    "-U",
    "postgres",
    "-A",
    "trust",
  ]);
  execFileSync(initCmd as string, initArgs as string[], { stdio: "ignore" });
  const port = await freePort();
  const [cmd, args] = run(join(bin, "postgres"), [
    "-D",
    join(dir, "data"),
    "-p",
    String(port),
    "-k",
    dir,
    "-h",
    "127.0.0.1",
  ]);
  const child = spawn(cmd as string, args as string[], { stdio: "ignore" });
  const stop = () => {
    child.kill("SIGINT");
  };
  process.once("exit", () => {
    stop();
    rmSync(dir, { recursive: true, force: true });
  });
  after(stop);
  const base = `postgres://postgres@127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await answers(base)) return base;
    if (child.exitCode !== null) throw new Error(`postgres exited with code ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  stop();
  throw new Error("postgres did not answer within 10 s");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
