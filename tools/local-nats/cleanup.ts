/**
 * Local servers never outlive their owner. Every live server is registered here; on process `exit`
 * (and SIGINT / SIGTERM / SIGHUP) each is destroyed synchronously. A server left behind by a parent
 * that died from SIGKILL is reaped the next time this module starts one: each server's directory
 * records its owner pid in `owner.json`.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Prefix of every server's temp directory (`<tmpRoot>/threadline-nats-XXXXXX`). */
export const SERVER_DIR_PREFIX = "threadline-nats-";
/** The pid file nats-server writes in its directory (`pid_file` in its config). */
export const PID_FILE = "nats-server.pid";
const OWNER_FILE = "owner.json";

/** What the exit hooks need of a server: a synchronous SIGKILL plus removal of its directory. */
export interface Destroyable {
  destroySync(): void;
}

/** Every server handle that has not been disposed yet. */
const liveServers = new Set<Destroyable>();
let exitHooksInstalled = false;
let reaped = false;

function cleanupAllSync(): void {
  for (const server of liveServers) {
    server.destroySync();
  }
  liveServers.clear();
}

const SIGNAL_EXIT_CODES: ReadonlyArray<[NodeJS.Signals, number]> = [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
];

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", cleanupAllSync);
  for (const [signal, exitCode] of SIGNAL_EXIT_CODES) {
    process.once(signal, () => {
      cleanupAllSync();
      // If someone else (a CLI, the node:test runner) also listens, let them finish the shutdown.
      if (process.listenerCount(signal) === 0) process.exit(exitCode);
    });
  }
}

/** Destroy `server` when this process exits, unless {@link untrackServer} was called first. */
export function trackServer(server: Destroyable): void {
  installExitHooks();
  liveServers.add(server);
}

export function untrackServer(server: Destroyable): void {
  liveServers.delete(server);
}

/** Record this process as the owner of a server directory, for {@link reapOrphanedServers}. */
export async function writeOwnerRecord(dir: string, name: string): Promise<void> {
  await fsp.writeFile(
    path.join(dir, OWNER_FILE),
    JSON.stringify({ parentPid: process.pid, name, createdAt: new Date().toISOString() }),
  );
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** {@link reapOrphanedServers}, the first time this process starts a server. */
export function reapOrphanedServersOnce(tmpRoot: string | undefined): void {
  if (reaped) return;
  reaped = true;
  reapOrphanedServers(tmpRoot);
}

/**
 * Kill servers (and remove directories) left behind by earlier processes that died without
 * running their exit hooks (e.g. SIGKILL). Only directories whose recorded owner pid is no longer
 * alive are touched, and a pid is only killed when its command line references that directory.
 * Called automatically before the first server of this process starts.
 */
export function reapOrphanedServers(tmpRoot: string = os.tmpdir()): number {
  let count = 0;
  let entries: string[];
  try {
    entries = fs.readdirSync(tmpRoot);
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.startsWith(SERVER_DIR_PREFIX)) continue;
    const dir = path.join(tmpRoot, entry);
    try {
      const owner = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), "utf8")) as {
        parentPid?: unknown;
      };
      if (typeof owner.parentPid !== "number" || isProcessAlive(owner.parentPid)) continue;
      const pidText = fs.existsSync(path.join(dir, PID_FILE))
        ? fs.readFileSync(path.join(dir, PID_FILE), "utf8").trim()
        : "";
      const pid = Number.parseInt(pidText, 10);
      if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        if (cmdline.includes(dir)) process.kill(pid, "SIGKILL");
      }
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      count += 1;
    } catch {
      // Best effort: not ours, half-created, or already gone.
    }
  }
  return count;
}
