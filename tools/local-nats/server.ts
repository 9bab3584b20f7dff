/**
 * One real `nats-server` process with its own temp directory: create (ports, directory, config),
 * start and wait until ready, stop, kill, restart, dispose; its log and monitoring endpoints.
 *
 * The server binds to 127.0.0.1 only, on ports the OS reported as free, never on a NATS default
 * port. Its directory is a fresh `mkdtemp(<tmpRoot>/threadline-nats-*)`, holding the config
 * (`nats-server.conf`), the log of every run (`nats-server.log`, stdout + stderr) and the JetStream
 * store; a server the caller forgets is killed and removed when the process exits (see cleanup.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findNatsServerBinary } from "./binary.js";
import {
  type Destroyable,
  PID_FILE,
  reapOrphanedServersOnce,
  SERVER_DIR_PREFIX,
  trackServer,
  untrackServer,
  writeOwnerRecord,
} from "./cleanup.js";
import { type ClusterMembership, type LeafnodeRemote, renderServerConfig } from "./config.js";
import {
  NatsServerDisposedError,
  NatsServerReadyTimeoutError,
  NatsServerStartError,
  NatsServerStopError,
} from "./errors.js";
import { getHealth, getMonitorJson, type HealthStatus, readinessProblem } from "./monitor.js";
import {
  getFreePort,
  rejectNatsDefaultPorts,
  releasePort,
  reservePort,
  retryOnAddressInUse,
} from "./ports.js";

export interface NatsServerOptions {
  /**
   * `server_name`; must be unique within a cluster / leafnode topology.
   * @default a unique "threadline-<pid>-<n>-<rand>"
   */
  name?: string;
  /**
   * Enable JetStream (file storage in the server's temp dir).
   * @default true
   */
  jetstream?: boolean;
  /**
   * JetStream domain (`jetstream { domain }`).
   * @default undefined (no domain)
   */
  domain?: string;
  /**
   * JetStream `sync_interval` (2.10+): how often file storage is fsynced, `always` for before every
   * acknowledgement (deploy/nats/hub-values.yaml). @default the server's (every 2 minutes)
   */
  syncInterval?: string;
  /**
   * JetStream `max_memory_store` in bytes.
   * @default 268435456 (256 MiB)
   */
  maxMemoryStore?: number;
  /**
   * JetStream `max_file_store` in bytes.
   * @default 1073741824 (1 GiB)
   */
  maxFileStore?: number;
  /**
   * Client port. Fixed ports are only for special cases; 4222 is rejected.
   * @default a free port from the OS
   */
  port?: number;
  /**
   * HTTP monitoring port.
   * @default a free port from the OS
   */
  monitorPort?: number;
  /**
   * Accept leafnode connections (`leafnodes { listen }`): `true` picks a free port.
   * @default false
   */
  leafnodeListen?: boolean | number;
  /**
   * The leafnode address the server tells its leaves about (`host:port`). Leaves add it to their
   * remote's URLs, so a test that routes the link through a proxy must advertise the proxy, or
   * the leaf reconnects straight to the server around it. @default the listen address
   */
  leafnodeAdvertise?: string;
  /**
   * Outgoing leafnode connections (`leafnodes { remotes = [...] }`).
   * @default []
   */
  leafnodeRemotes?: LeafnodeRemote[];
  /**
   * Leafnode reconnect interval in seconds (`leafnodes { reconnect }`), only used with remotes.
   * @default 1
   */
  leafnodeReconnectSeconds?: number;
  /**
   * Cluster block; see `startCluster` (cluster.ts).
   * @default undefined (standalone)
   */
  cluster?: ClusterMembership;
  /**
   * Raw nats-server config appended verbatim at the end of the generated file, e.g. an
   * `authorization { ... }` or `accounts { ... }` block.
   * @default ""
   */
  extraConfig?: string;
  /**
   * Log debug output (`debug: true`).
   * @default false
   */
  debug?: boolean;
  /**
   * How long {@link LocalNatsServer.start} waits for the server to become ready.
   * @default 20000
   */
  readyTimeoutMs?: number;
  /**
   * How long {@link LocalNatsServer.stop} waits after SIGTERM before escalating to SIGKILL.
   * @default 10000
   */
  stopTimeoutMs?: number;
  /**
   * Path of the nats-server binary.
   * @default the result of {@link findNatsServerBinary}
   */
  binary?: string;
  /**
   * Parent directory for the server's temp dir.
   * @default os.tmpdir()
   */
  tmpRoot?: string;
}

/** The value defaults of {@link NatsServerOptions} (ports, name, binary and tmpRoot are chosen per server). */
const SERVER_DEFAULTS = {
  jetstream: true,
  maxMemoryStore: 256 * 1024 * 1024,
  maxFileStore: 1024 * 1024 * 1024,
  leafnodeReconnectSeconds: 1,
  readyTimeoutMs: 20_000,
  stopTimeoutMs: 10_000,
} as const;

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

let nameCounter = 0;
/** `<prefix>-<pid>-<n>-<rand>`: unique among the servers of this machine. */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `${prefix}-${process.pid}-${nameCounter}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Resolves to `undefined` when `ms` elapse first. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function readTail(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    const all = text.split("\n");
    if (all.at(-1) === "") all.pop();
    return all.slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Handle for one real nats-server process with its own temp directory. The ports and the storage
 * directory are fixed for the lifetime of the handle, so {@link restart} / {@link start} after
 * {@link kill} bring back the same server with its JetStream data.
 */
export class LocalNatsServer implements Destroyable {
  readonly name: string;
  /** Temp directory owned by this server (config, log, pid file, JetStream store). */
  readonly dir: string;
  /** JetStream `store_dir`. */
  readonly storeDir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** Client port (never 4222). */
  readonly port: number;
  readonly monitorPort: number;
  /** Route port when the node is part of a cluster. */
  readonly clusterPort: number | undefined;
  /** Leafnode listen port when {@link NatsServerOptions.leafnodeListen} is set. */
  readonly leafnodePort: number | undefined;
  readonly domain: string | undefined;
  readonly jetstream: boolean;
  readonly clusterName: string | undefined;

  readonly #options: NatsServerOptions;
  readonly #binary: string;
  #child: ChildProcess | undefined;
  #exited: Promise<ExitInfo> | undefined;
  #exitInfo: ExitInfo | undefined;
  #disposed = false;
  #leafnodeRemotes: LeafnodeRemote[];

  private constructor(init: {
    options: NatsServerOptions;
    binary: string;
    dir: string;
    name: string;
    port: number;
    monitorPort: number;
    clusterPort: number | undefined;
    leafnodePort: number | undefined;
  }) {
    this.#options = init.options;
    this.#binary = init.binary;
    this.name = init.name;
    this.dir = init.dir;
    this.storeDir = path.join(init.dir, "store");
    this.configFile = path.join(init.dir, "nats-server.conf");
    this.logFile = path.join(init.dir, "nats-server.log");
    this.port = init.port;
    this.monitorPort = init.monitorPort;
    this.clusterPort = init.clusterPort;
    this.leafnodePort = init.leafnodePort;
    this.jetstream = init.options.jetstream ?? SERVER_DEFAULTS.jetstream;
    this.domain = init.options.domain;
    this.clusterName = init.options.cluster?.name;
    this.#leafnodeRemotes = [...(init.options.leafnodeRemotes ?? [])];
  }

  /**
   * Allocate ports and the temp directory and write the config, without starting the process.
   * Most callers want {@link startNatsServer}.
   */
  static async create(options: NatsServerOptions = {}): Promise<LocalNatsServer> {
    const binary = options.binary ?? (await findNatsServerBinary());
    rejectNatsDefaultPorts([options.port, options.monitorPort, options.cluster?.port]);
    reapOrphanedServersOnce(options.tmpRoot);
    const allocated: number[] = [];
    const pick = async (fixed: number | undefined): Promise<number> => {
      let port: number;
      if (fixed === undefined) {
        port = await getFreePort();
      } else {
        reservePort(fixed);
        port = fixed;
      }
      allocated.push(port);
      return port;
    };
    try {
      const port = await pick(options.port);
      const monitorPort = await pick(options.monitorPort);
      const clusterPort = options.cluster ? await pick(options.cluster.port) : undefined;
      const leafnodePort =
        options.leafnodeListen === undefined || options.leafnodeListen === false
          ? undefined
          : await pick(options.leafnodeListen === true ? undefined : options.leafnodeListen);
      const tmpRoot = options.tmpRoot ?? os.tmpdir();
      const dir = await fsp.mkdtemp(path.join(tmpRoot, SERVER_DIR_PREFIX));
      const server = new LocalNatsServer({
        options,
        binary,
        dir,
        name: options.name ?? uniqueName("threadline"),
        port,
        monitorPort,
        clusterPort,
        leafnodePort,
      });
      trackServer(server);
      await writeOwnerRecord(dir, server.name);
      await fsp.mkdir(server.storeDir, { recursive: true });
      await server.#writeConfig();
      return server;
    } catch (err) {
      for (const p of allocated) releasePort(p);
      throw err;
    }
  }

  /** `nats://127.0.0.1:<port>` */
  get clientUrl(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** `http://127.0.0.1:<monitorPort>` */
  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPort}`;
  }

  /** `nats-leaf://127.0.0.1:<leafnodePort>` when leafnode connections are accepted. */
  get leafnodeUrl(): string | undefined {
    return this.leafnodePort === undefined ? undefined : `nats-leaf://127.0.0.1:${this.leafnodePort}`;
  }

  /** `nats-route://127.0.0.1:<clusterPort>` when clustered. */
  get routeUrl(): string | undefined {
    return this.clusterPort === undefined ? undefined : `nats-route://127.0.0.1:${this.clusterPort}`;
  }

  /** pid of the running process, `undefined` when stopped. */
  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  /** The process has been spawned and has not exited. */
  get running(): boolean {
    return this.#child !== undefined && this.#exitInfo === undefined;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Outgoing leafnode remotes used by the next (re)start. */
  get leafnodeRemotes(): readonly LeafnodeRemote[] {
    return this.#leafnodeRemotes;
  }

  /**
   * Replace the leafnode remotes; takes effect on the next {@link start}/{@link restart}
   * (nats-server 2.9 cannot reload remotes). The config file is rewritten immediately.
   */
  async setLeafnodeRemotes(remotes: LeafnodeRemote[]): Promise<void> {
    this.#assertNotDisposed();
    this.#leafnodeRemotes = [...remotes];
    await this.#writeConfig();
  }

  /** The generated nats-server configuration. */
  renderConfig(): string {
    const o = this.#options;
    return renderServerConfig({
      name: this.name,
      port: this.port,
      monitorPort: this.monitorPort,
      pidFile: path.join(this.dir, PID_FILE),
      debug: o.debug ?? false,
      jetstream: this.jetstream
        ? {
            storeDir: this.storeDir,
            maxMemoryStore: o.maxMemoryStore ?? SERVER_DEFAULTS.maxMemoryStore,
            maxFileStore: o.maxFileStore ?? SERVER_DEFAULTS.maxFileStore,
            domain: o.domain,
            syncInterval: o.syncInterval,
          }
        : undefined,
      cluster:
        o.cluster && this.clusterPort !== undefined
          ? {
              name: o.cluster.name,
              port: this.clusterPort,
              routes: o.cluster.routes,
              advertise: o.cluster.advertise,
            }
          : undefined,
      leafnodes: {
        listenPort: this.leafnodePort,
        advertise: o.leafnodeAdvertise,
        reconnectSeconds: o.leafnodeReconnectSeconds ?? SERVER_DEFAULTS.leafnodeReconnectSeconds,
        remotes: this.#leafnodeRemotes,
      },
      extraConfig: o.extraConfig ?? "",
    });
  }

  async #writeConfig(): Promise<void> {
    await fsp.writeFile(this.configFile, this.renderConfig());
  }

  /**
   * Start the process (no-op when running) and wait until it is ready: the client port answers
   * with `INFO` and `/healthz` is ok (`?js-enabled-only=true` for cluster nodes, whose full health
   * depends on their peers). Retries a few times when a port is briefly unavailable.
   *
   * @throws {NatsServerStartError} the process exited (message and `logTail` include the log).
   * @throws {NatsServerReadyTimeoutError} not ready within `readyTimeoutMs`.
   */
  async start(): Promise<this> {
    this.#assertNotDisposed();
    if (this.running) return this;
    await retryOnAddressInUse(
      5,
      () => this.#spawnAndWait(),
      (attempt) => 250 * attempt,
    );
    return this;
  }

  async #spawnAndWait(): Promise<void> {
    await this.#writeConfig();
    const logFd = fs.openSync(this.logFile, "a");
    let child: ChildProcess;
    try {
      fs.writeSync(logFd, `\n=== threadline: starting ${this.#binary} -c ${this.configFile} ===\n`);
      child = spawn(this.#binary, ["-c", this.configFile], {
        cwd: this.dir,
        stdio: ["ignore", logFd, logFd],
        env: process.env,
      });
    } finally {
      fs.closeSync(logFd);
    }
    this.#child = child;
    this.#exitInfo = undefined;
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (error) => resolve({ code: null, signal: null, error }));
    }).then((info) => {
      if (this.#child === child) this.#exitInfo = info;
      return info;
    });
    // A forgotten server must not keep the event loop alive; exit hooks kill it.
    child.unref();
    try {
      await this.waitUntilReady();
    } catch (err) {
      if (this.running) await this.kill().catch(() => undefined);
      throw err;
    }
  }

  /** Poll until the running process is ready (see {@link start}). */
  async waitUntilReady(
    timeoutMs: number = this.#options.readyTimeoutMs ?? SERVER_DEFAULTS.readyTimeoutMs,
  ): Promise<void> {
    const exited = this.#exited;
    if (!exited) throw new NatsServerStartError(`nats-server ${this.name} was never started`, "");
    const target = {
      name: this.name,
      port: this.port,
      monitorUrl: this.monitorUrl,
      jetstream: this.jetstream,
      clustered: Boolean(this.#options.cluster),
    };
    const deadline = Date.now() + timeoutMs;
    let lastProblem = "not probed yet";
    const exitError = (info: ExitInfo) => {
      const tail = this.logTail(25);
      return new NatsServerStartError(
        `nats-server ${this.name} ${info.error ? `could not be spawned (${info.error.message})` : `exited during startup (code ${info.code}, signal ${info.signal})`}. Last log lines:\n${tail}`,
        tail,
        info.code,
        info.signal,
        { cause: info.error },
      );
    };
    while (Date.now() < deadline) {
      const probe = readinessProblem(target).then((problem) => {
        if (problem === undefined) return true;
        lastProblem = problem;
        return false;
      });
      const result = await Promise.race([probe, exited]);
      if (typeof result === "object") throw exitError(result);
      if (result) return;
      const after = await Promise.race([sleep(50).then(() => undefined), exited]);
      if (after) throw exitError(after);
    }
    if (this.#exitInfo) throw exitError(this.#exitInfo);
    const tail = this.logTail(25);
    throw new NatsServerReadyTimeoutError(
      `nats-server ${this.name} (pid ${this.#child?.pid}) not ready after ${timeoutMs} ms: ${lastProblem}. Last log lines:\n${tail}`,
      tail,
    );
  }

  /**
   * Send `signal` to the running process and wait up to `timeoutMs` for it to exit. True when it
   * has exited (or was not running), false when it is still running.
   */
  async #signalAndWait(signal: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited || !this.running) return true;
    child.ref();
    child.kill(signal);
    return (await withTimeout(exited, timeoutMs)) !== undefined;
  }

  /**
   * Graceful stop: SIGTERM, wait for exit, SIGKILL after `timeoutMs`. No-op when not running.
   * @throws {NatsServerStopError} when the process survives SIGKILL.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.#options.stopTimeoutMs ?? SERVER_DEFAULTS.stopTimeoutMs;
    if (await this.#signalAndWait("SIGTERM", timeoutMs)) return;
    await this.kill();
  }

  /** Crash the server: SIGKILL (like `kill -9`) and wait for the process to be gone. */
  async kill(): Promise<void> {
    const pid = this.#child?.pid;
    if (!(await this.#signalAndWait("SIGKILL", 10_000))) {
      throw new NatsServerStopError(`nats-server ${this.name} (pid ${pid}) did not exit after SIGKILL`);
    }
  }

  /** {@link stop} then {@link start}: same ports, same storage, so JetStream data survives. */
  async restart(options: { timeoutMs?: number } = {}): Promise<this> {
    this.#assertNotDisposed();
    await this.stop(options);
    return this.start();
  }

  /** Stop the server (SIGKILL if it does not stop in time) and delete its temp directory. Idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    try {
      await this.stop();
    } catch {
      this.destroySync();
    }
    this.#disposed = true;
    untrackServer(this);
    await fsp.rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    this.#releasePorts();
  }

  /**
   * Synchronous last-resort cleanup used by the process exit hooks: SIGKILL and remove the
   * directory. Prefer {@link dispose}.
   */
  destroySync(): void {
    const pid = this.#child?.pid;
    if (pid !== undefined && this.#exitInfo === undefined) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.#disposed = true;
    untrackServer(this);
    try {
      fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort during exit
    }
    this.#releasePorts();
  }

  #releasePorts(): void {
    releasePort(this.port);
    releasePort(this.monitorPort);
    releasePort(this.clusterPort);
    releasePort(this.leafnodePort);
  }

  /** Last `lines` lines of the server log (stdout + stderr of every run). */
  logTail(lines = 40): string {
    return readTail(this.logFile, lines);
  }

  /** GET a monitoring endpoint (e.g. `"jsz"`, `"leafz"`, `"varz?x=y"`) and parse the JSON. */
  monitor<T = unknown>(endpoint: string): Promise<T> {
    return getMonitorJson<T>(this.monitorUrl, endpoint);
  }

  /** `/healthz` (full check, including JetStream meta state for cluster nodes). */
  health(query = ""): Promise<HealthStatus> {
    return getHealth(this.monitorUrl, query);
  }

  #assertNotDisposed(): void {
    if (this.#disposed)
      throw new NatsServerDisposedError(`nats-server ${this.name} was disposed; its storage is gone`);
  }
}

/**
 * Start a single JetStream node on free ports with temp storage and wait until it is ready.
 * If a freshly allocated port turns out to be taken (another process won the race), new ports
 * are allocated and the start is retried.
 */
export function startNatsServer(options: NatsServerOptions = {}): Promise<LocalNatsServer> {
  const fixedPorts = options.port !== undefined || options.monitorPort !== undefined;
  return retryOnAddressInUse(fixedPorts ? 1 : 3, async () => {
    const server = await LocalNatsServer.create(options);
    try {
      return await server.start();
    } catch (err) {
      await server.dispose().catch(() => undefined);
      throw err;
    }
  });
}

/**
 * The last `lines` log lines of each server under a `--- <label> ---` heading, for the message of
 * an error about several servers.
 */
export function logTails(
  servers: ReadonlyArray<readonly [label: string, server: LocalNatsServer]>,
  lines = 10,
): string {
  return servers.map(([label, server]) => `--- ${label} ---\n${server.logTail(lines)}`).join("\n");
}
