/**
 * Finding the `nats-server` binary: `$THREADLINE_NATS_SERVER`, the release `make` unpacked into
 * `.cache/`, `PATH`, the Debian locations; as root, installing the Debian package when none is found.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NatsServerNotFoundError } from "./errors.js";

const execFileAsync = promisify(execFile);

export interface FindNatsServerBinaryOptions {
  /**
   * When no binary is found and the process runs as root, install the Debian package with
   * `apt-get update && apt-get install -y nats-server`.
   * @default true
   */
  install?: boolean;
}

const INSTALL_HINT =
  "Install it with `sudo apt-get update && sudo apt-get install -y nats-server` (Debian/Ubuntu), " +
  "or download a release from https://github.com/nats-io/nats-server/releases and put it on PATH, " +
  "or point THREADLINE_NATS_SERVER at the binary.";

let binaryPromise: Promise<string> | undefined;

function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The current release `make` unpacks into the project (tools/install/nats-server.sh). */
const PROJECT_NATS_SERVER = fileURLToPath(
  new URL("../../../.cache/nats-server/usr/sbin/nats-server", import.meta.url),
);

function locateNatsServerBinary(): string | undefined {
  const override = process.env["THREADLINE_NATS_SERVER"];
  // Absolute: the server is spawned with its own working directory, where a relative path means nothing.
  if (override && isExecutable(override)) return path.resolve(override);
  if (isExecutable(PROJECT_NATS_SERVER)) return PROJECT_NATS_SERVER;
  const candidates = (process.env["PATH"] ?? "")
    .split(path.delimiter)
    .filter((dir) => dir !== "")
    .map((dir) => path.join(dir, "nats-server"));
  candidates.push("/usr/sbin/nats-server", "/usr/bin/nats-server");
  return candidates.find(isExecutable);
}

async function installWithApt(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Wait for the dpkg lock instead of failing when another process is installing concurrently.
  const lockWait = ["-o", "DPkg::Lock::Timeout=300"];
  const opts = { env, timeout: 10 * 60_000, maxBuffer: 32 * 1024 * 1024 };
  await execFileAsync("apt-get", [...lockWait, "update"], opts);
  await execFileAsync("apt-get", [...lockWait, "install", "-y", "nats-server"], opts);
}

/**
 * Locate the `nats-server` binary: `$THREADLINE_NATS_SERVER`, then the current release `make` unpacked
 * into `.cache/nats-server/`, then `PATH`, then
 * `/usr/sbin/nats-server`, `/usr/bin/nats-server`. When missing and running as root, installs the
 * Debian package (`apt-get install -y nats-server`, non-interactive). The result is cached.
 *
 * @throws {NatsServerNotFoundError} when no binary can be found or installed.
 */
export function findNatsServerBinary(options: FindNatsServerBinaryOptions = {}): Promise<string> {
  if (binaryPromise) return binaryPromise;
  const found = locateNatsServerBinary();
  if (found) {
    binaryPromise = Promise.resolve(found);
    return binaryPromise;
  }
  const install = options.install ?? true;
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!install || !isRoot) {
    return Promise.reject(
      new NatsServerNotFoundError(
        `nats-server binary not found on PATH, /usr/sbin or /usr/bin${isRoot ? "" : " (not root, so not installing it automatically)"}. ${INSTALL_HINT}`,
      ),
    );
  }
  const attempt = (async () => {
    try {
      await installWithApt();
    } catch (cause) {
      // Another process may have installed it meanwhile.
      const again = locateNatsServerBinary();
      if (again) return again;
      throw new NatsServerNotFoundError(
        `nats-server is missing and \`apt-get install -y nats-server\` failed. ${INSTALL_HINT}`,
        {
          cause,
        },
      );
    }
    const installed = locateNatsServerBinary();
    if (!installed) {
      throw new NatsServerNotFoundError(
        `apt-get installed nats-server but no binary was found on PATH, /usr/sbin or /usr/bin. ${INSTALL_HINT}`,
      );
    }
    return installed;
  })();
  binaryPromise = attempt;
  // Do not cache failures: a later call may succeed (e.g. after a manual install).
  attempt.catch(() => {
    if (binaryPromise === attempt) binaryPromise = undefined;
  });
  return attempt;
}

/** `nats-server --version` of the given (or discovered) binary, e.g. `"2.9.10"`. */
export async function natsServerVersion(binary?: string): Promise<string> {
  const bin = binary ?? (await findNatsServerBinary());
  const { stdout } = await execFileAsync(bin, ["--version"], { timeout: 10_000 });
  const match = /v?(\d+\.\d+\.\d+\S*)/.exec(stdout);
  return match?.[1] ?? stdout.trim();
}
