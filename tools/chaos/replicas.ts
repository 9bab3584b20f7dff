/**
 * The replicas of one service in the chaos run, each its own process with its own HTTP port and
 * pod name (HOSTNAME, which names its lease holder), killed, paused and restarted one by one.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getFreePort } from "../local-nats/index.js";
import { ThreadlineProcess } from "./process.js";

export interface ReplicaSpec {
  /** The command line after `threadline` (or after `entry`). */
  readonly args: readonly string[];
  /** The program instead of `threadline`: a service's manifest entry. @default bin/threadline.js */
  readonly entry?: string;
  /** The replica's environment (its HTTP_PORT and HOSTNAME are added). */
  readonly env: Readonly<Record<string, string>>;
}

export interface Replica {
  readonly name: string;
  readonly process: ThreadlineProcess;
  readonly url: string;
  /** Deliberately down, paused or starting again: not probed, not asked. */
  out: boolean;
  /** Was paused at some point: its event-loop lag includes the pause. */
  paused: boolean;
}

export interface ReplicasOptions {
  /**
   * One replica works under a lease, the others answer /readyz 503 "standby" (the quality service):
   * ready is then one replica ready, not every one. @default false
   */
  readonly activeStandby?: boolean;
}

export class ServiceReplicas {
  private constructor(
    readonly service: string,
    readonly replicas: readonly Replica[],
    readonly options: ReplicasOptions,
  ) {}

  /** Starts `count` replicas of `service`; `spec(i)` gives the i-th its command and environment. */
  static async start(
    service: string,
    count: number,
    logDir: string,
    spec: (i: number) => ReplicaSpec,
    options: ReplicasOptions = {},
  ): Promise<ServiceReplicas> {
    const replicas: Replica[] = [];
    for (let i = 0; i < count; i++) {
      const port = await getFreePort();
      const name = count === 1 ? service : `${service}-${i}`;
      const { args, env, entry } = spec(i);
      const process = new ThreadlineProcess({
        name,
        args,
        ...(entry ? { entry } : {}),
        env: { ...env, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(port), HOSTNAME: name },
        logDir,
      }).start();
      replicas.push({ name, process, url: `http://127.0.0.1:${port}`, out: false, paused: false });
    }
    return new ServiceReplicas(service, replicas, options);
  }

  replica(i: number): Replica {
    const r = this.replicas[i];
    if (!r) throw new RangeError(`${this.service} has ${this.replicas.length} replicas; no replica ${i}`);
    return r;
  }

  /** The URLs of the replicas that are up (not killed, not paused). */
  upUrls(): string[] {
    return this.replicas.filter((r) => !r.out && r.process.running).map((r) => r.url);
  }

  /** Every replica that is up answers /readyz with 200; active/standby: exactly one does. */
  async ready(): Promise<boolean> {
    if (this.options.activeStandby) return (await this.readyCount()) === 1;
    const urls = this.upUrls();
    if (urls.length === 0) return false;
    for (const url of urls) if ((await readyz(url)) !== 200) return false;
    return true;
  }

  /** Some replica that is up answers /readyz with `status`. */
  async someAnswers(status: number): Promise<boolean> {
    for (const url of this.upUrls()) if ((await readyz(url)) === status) return true;
    return false;
  }

  /** The replicas that are up and answer /readyz with 200 (asked at once), by index. */
  async readyReplicas(): Promise<number[]> {
    const up = this.replicas.flatMap((r, i) => (!r.out && r.process.running ? [i] : []));
    const statuses = await Promise.all(up.map((i) => readyz(this.replica(i).url)));
    return up.filter((_, k) => statuses[k] === 200);
  }

  /** How many of the replicas that are up answer /readyz with 200, asked at once. */
  async readyCount(): Promise<number> {
    return (await this.readyReplicas()).length;
  }

  /**
   * One address in front of the replicas, as a Kubernetes Service is: each request goes to a replica
   * that is up and ready, the next one tried when it does not answer or answers 503.
   */
  async front(): Promise<{ readonly url: string; close(): Promise<void> }> {
    let next = 0;
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const urls = this.upUrls();
      let answer: Response | undefined;
      for (let k = 0; k < urls.length; k++) {
        const base = urls[(next + k) % urls.length] as string;
        const headers = Object.entries(req.headers).filter(
          (e): e is [string, string] => typeof e[1] === "string" && !HOP_BY_HOP.has(e[0]),
        );
        answer = await fetch(`${base}${req.url}`, {
          method: req.method ?? "GET",
          headers,
          ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
          signal: AbortSignal.timeout(30_000),
        }).catch(() => undefined);
        if (answer && answer.status !== 503) break;
      }
      next++;
      if (!answer) {
        res.writeHead(503, { "content-type": "text/plain" }).end(`no ${this.service} replica answered`);
        return;
      }
      const type = answer.headers.get("content-type");
      res.writeHead(answer.status, type ? { "content-type": type } : {});
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  /** Sums a metric (a line without labels) over the replicas that are up. */
  async metricSum(name: string): Promise<number> {
    let sum = 0;
    for (const url of this.upUrls()) {
      const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(1_000) })).text();
      sum += Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    }
    return sum;
  }

  /** Any replica exited by itself (not killed by the run). */
  exited(): string[] {
    return this.replicas.filter((r) => !r.out && !r.process.running).map((r) => r.name);
  }

  async kill(i: number): Promise<void> {
    const r = this.replica(i);
    r.out = true;
    await r.process.kill("SIGKILL");
  }

  /** Starts a killed replica again; it counts as up (probed, asked) once it answers /healthz. */
  async restart(i: number, timeoutMs = 90_000): Promise<void> {
    const r = this.replica(i);
    r.process.start();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && r.process.running) {
      const res = await fetch(`${r.url}/healthz`, { signal: AbortSignal.timeout(1_000) }).catch(
        () => undefined,
      );
      if (res?.ok) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    r.out = false;
  }

  async pause(i: number): Promise<void> {
    const r = this.replica(i);
    r.out = true;
    r.paused = true;
    r.process.pause();
  }

  async resume(i: number): Promise<void> {
    const r = this.replica(i);
    r.process.resume();
    r.out = false;
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.process.stop()));
  }
}

/** Headers of one connection, not forwarded (fetch sets its own). */
const HOP_BY_HOP = new Set(["host", "connection", "keep-alive", "content-length", "transfer-encoding"]);

async function readyz(url: string): Promise<number | undefined> {
  return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined))
    ?.status;
}
