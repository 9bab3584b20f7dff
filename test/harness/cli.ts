/** Runs the real `threadline` command (bin/threadline.js over dist/), as a user or operator would. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../contracts/src/paths.js";

export interface CliRun {
  code: number | null;
  /** stdout as text. */
  stdout: string;
  /** stdout as bytes (for binary output such as `contracts encode`). */
  stdoutBytes: Buffer;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin, then closed. @default nothing (stdin closed at once) */
  input?: Buffer | string;
  /** Added to the environment; `NATS_URL` is cleared unless given, so no test reaches a server by accident. */
  env?: Record<string, string>;
}

export function threadline(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, "bin/threadline.js"), ...args], {
      env: { ...process.env, NATS_URL: "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, stdout: stdoutBytes.toString(), stdoutBytes, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}
