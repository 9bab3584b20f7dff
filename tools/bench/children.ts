/** Child processes of a bench (simulators, baseline publishers): never left running, however the bench ends. */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { RESULT_PREFIX } from "./bridge-measure.js";

/** Every child still running; killed when this process exits, whatever the reason. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** Resolves true once the child has exited, false after `ms`. */
export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (!(await waitExit(child, graceMs))) {
    child.kill("SIGKILL");
    await waitExit(child, 5_000);
  }
}

/** Lines of a child's stream, the last `keep` kept for an error message. */
export function tail(stream: NodeJS.ReadableStream, keep: number, onLine?: (line: string) => void): string[] {
  const lines: string[] = [];
  createInterface({ input: stream }).on("line", (line) => {
    lines.push(line);
    if (lines.length > keep) lines.shift();
    onLine?.(line);
  });
  return lines;
}

/** Runs a bench child (`childMain`, bridge-measure.ts): input on stdin, `RESULT <json>` on stdout. */
export async function runChild<I, R>(file: string, label: string, input: I, timeoutMs: number): Promise<R> {
  const child = spawn(process.execPath, [file], { stdio: ["pipe", "pipe", "pipe"] });
  track(child);
  const errLines = tail(child.stderr as NodeJS.ReadableStream, 30, (line) =>
    process.stderr.write(`  ${line}\n`),
  );
  try {
    return await new Promise<R>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${label} did not finish within ${timeoutMs} ms`)),
        timeoutMs,
      );
      let result: R | undefined;
      tail(child.stdout as NodeJS.ReadableStream, 5, (line) => {
        if (line.startsWith(RESULT_PREFIX)) result = JSON.parse(line.slice(RESULT_PREFIX.length)) as R;
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        if (code === 0 && result !== undefined) resolve(result);
        else reject(new Error(`${label} failed (${code ?? signal}):\n${errLines.join("\n")}`));
      });
      child.once("error", reject);
      child.stdin?.write(`${JSON.stringify(input)}\n`);
    });
  } finally {
    await terminate(child, 2_000);
  }
}
