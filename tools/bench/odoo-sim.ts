/**
 * The Odoo simulator for the benches: `threadline sim odoo` in a child process (its CPU is not the
 * bench's), reached only over HTTP on 127.0.0.1 like a real Odoo, with credentials and an admin
 * token chosen here. It exits with the bench process.
 */

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Registry } from "prom-client";
import { OdooClient } from "../../services/odoo-connector/src/odoo/index.js";
import { setupOdoo } from "../../services/odoo-connector/src/odoo-setup.js";
import { terminate, track } from "./children.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const BIN = path.join(REPO, "bin", "threadline.js");
/** Loaded into the simulator: it exits when this process goes away (its stdin closes). */
const EXIT_WITH_PARENT =
  "data:text/javascript,process.stdin.on('end',()=>process.exit(1));process.stdin.resume();";

export interface SimChild {
  readonly url: string;
  readonly db: string;
  readonly login: string;
  readonly apiKey: string;
  readonly pid: number | undefined;
  /** POST /__sim/faults. */
  addFault(rule: Record<string, unknown>): Promise<void>;
  /** GET /__sim/calls: every RPC call served so far, oldest first. */
  calls(): Promise<SimCall[]>;
  stop(): Promise<void>;
}

export interface SimCall {
  readonly model?: string;
  readonly method: string;
  readonly ok: boolean;
}

/** `threadline sim odoo` on a free port of 127.0.0.1, with credentials and admin token chosen here. */
export async function startSim(profile: number, timeoutMs: number): Promise<SimChild> {
  const secret = (bytes: number) => randomBytes(bytes).toString("hex");
  const apiKey = secret(20);
  const token = secret(16);
  const args = ["sim", "odoo", "--profile", String(profile), "--host", "127.0.0.1", "--port", "0"];
  const child = spawn(process.execPath, ["--import", EXIT_WITH_PARENT, BIN, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: {
      ...process.env,
      ODOO_SIM_ADMIN_PASSWORD: secret(8),
      ODOO_SIM_API_KEY: apiKey,
      ODOO_SIM_ADMIN_TOKEN: token,
    },
  });
  track(child);
  const errLines: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    errLines.push(line);
    if (errLines.length > 20) errLines.shift();
  });
  const stop = () => terminate(child, 5_000);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the Odoo simulator did not serve within ${timeoutMs} ms`)),
        timeoutMs,
      );
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the Odoo simulator exited (${code ?? signal}):\n${errLines.join("\n")}`));
      });
      child.once("error", reject);
    });
    const admin = async (method: "GET" | "POST", route: string, body?: unknown): Promise<unknown> => {
      const res = await fetch(`${url}/__sim/${route}`, {
        method,
        headers: { "X-Sim-Token": token, "Content-Type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      if (!res.ok) throw new Error(`${method} /__sim/${route}: HTTP ${res.status} ${await res.text()}`);
      return res.json();
    };
    return {
      url,
      db: "threadline",
      login: "admin",
      apiKey,
      pid: child.pid,
      addFault: async (rule) => void (await admin("POST", "faults", rule)),
      calls: async () => (await admin("GET", "calls")) as SimCall[],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * An administrator's client of the simulator, after what `threadline odoo setup` does once (the
 * posting model and marker fields the connector's postings need). For setup and verification only:
 * not measured, 8 requests at once, its rate not binding.
 */
export async function simAdmin(sim: SimChild): Promise<OdooClient> {
  const admin = await OdooClient.connect({
    url: sim.url,
    db: sim.db,
    login: sim.login,
    apiKey: sim.apiKey,
    concurrency: 8,
    ratePerSecond: 10_000,
    registry: new Registry(),
  });
  try {
    await setupOdoo(admin);
    return admin;
  } catch (err) {
    await admin.close();
    throw err;
  }
}
