/**
 * A `threadline` command running as its own process, as an operator starts it (bin/threadline.js
 * over dist/), or a service started from its manifest's entry as its container does: restartable,
 * killable with any signal, its output appended to a log file and kept in memory for waiting on a line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../contracts/src/index.js";

export interface ThreadlineProcessOptions {
  /** Names the log file (`<logDir>/<name>.log`) and the process in messages. */
  readonly name: string;
  /** The command line after `threadline` (or after `entry`). */
  readonly args: readonly string[];
  /**
   * The program, relative to the package root: a service's manifest entry (`dist/services/…/main.js`),
   * as its container starts it. @default "bin/threadline.js"
   */
  readonly entry?: string;
  /** Added to this process's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly logDir: string;
}

export class ThreadlineProcess {
  readonly name: string;
  readonly #options: ThreadlineProcessOptions;
  readonly #log: WriteStream;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** Output of the current run (since the last start). */
  #output = "";
  #stdout = "";
  /** How many times it was started. */
  starts = 0;

  constructor(options: ThreadlineProcessOptions) {
    this.name = options.name;
    this.#options = options;
    this.#log = createWriteStream(join(options.logDir, `${options.name}.log`), { flags: "a" });
  }

  /** Starts it (again). */
  start(): this {
    if (this.running) throw new Error(`${this.name} is already running`);
    const entry = this.#options.entry ?? "bin/threadline.js";
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, entry), ...this.#options.args], {
      env: { ...process.env, ...this.#options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.starts++;
    this.#output = "";
    this.#stdout = "";
    this.#log.write(
      `--- start ${this.starts} at ${new Date().toISOString()}: ${this.#options.entry ?? "threadline"} ${this.#options.args.join(" ")}\n`,
    );
    const collect = (d: Buffer) => {
      this.#log.write(d);
      // Enough to find a line in; a long run's whole output is in the log file.
      this.#output = (this.#output + d.toString()).slice(-512_000);
    };
    child.stdout?.on("data", (d: Buffer) => {
      this.#stdout = (this.#stdout + d.toString()).slice(-4_000_000);
      collect(d);
    });
    child.stderr?.on("data", collect);
    this.#exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        this.#log.write(`--- exit ${code ?? signal} at ${new Date().toISOString()}\n`);
        resolve();
      }),
    );
    this.#child = child;
    return this;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get exitCode(): number | null {
    return this.#child?.exitCode ?? null;
  }

  /** What the current run printed (stdout and stderr, interleaved). */
  output(): string {
    return this.#output;
  }

  /** What the current run printed on stdout (a command's result). */
  stdout(): string {
    return this.#stdout;
  }

  /** Waits for a line of the current run matching `re`; rejects with the output's tail after `timeoutMs`. */
  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.#output);
      if (m) return m;
      if (!this.running && this.#child)
        throw new Error(`${this.name} exited (${this.exitCode}):\n${this.#output.slice(-2_000)}`);
      if (Date.now() > deadline)
        throw new Error(`${this.name}: no ${re} within ${timeoutMs} ms:\n${this.#output.slice(-2_000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves with the exit code once the current run ends by itself. */
  async exited(): Promise<number | null> {
    await this.#exited;
    return this.exitCode;
  }

  /** SIGSTOP: the process freezes (a stalled VM, a GC pause, a debugger) without its peers being told. */
  pause(): void {
    if (this.running) this.#child?.kill("SIGSTOP");
    this.#log.write(`--- paused (SIGSTOP) at ${new Date().toISOString()}\n`);
  }

  /** SIGCONT after {@link pause}. */
  resume(): void {
    if (this.running) this.#child?.kill("SIGCONT");
    this.#log.write(`--- resumed (SIGCONT) at ${new Date().toISOString()}\n`);
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  async kill(signal: NodeJS.Signals = "SIGKILL", graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    // A paused process handles no signal but SIGKILL until it runs again.
    if (signal !== "SIGKILL") this.#child?.kill("SIGCONT");
    this.#child?.kill(signal);
    const timer = setTimeout(() => this.#child?.kill("SIGKILL"), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** SIGTERM, as a supervisor stops a service; closes the log. */
  async stop(): Promise<void> {
    await this.kill("SIGTERM");
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }
}
