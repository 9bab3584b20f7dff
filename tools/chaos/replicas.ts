/**
 * The replicas of one service in the chaos run, each its own process with its own HTTP port and
 * pod name (HOSTNAME, which names its lease holder), killed, paused and restarted one by one.
 */
import { getFreePort } from "../local-nats/index.js";
import { ThreadlineProcess } from "./process.js";

export interface ReplicaSpec {
  /** The command line after `threadline`. */
  readonly args: readonly string[];
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

export class ServiceReplicas {
  private constructor(
    readonly service: string,
    readonly replicas: readonly Replica[],
  ) {}

  /** Starts `count` replicas of `service`; `spec(i)` gives the i-th its command and environment. */
  static async start(
    service: string,
    count: number,
    logDir: string,
    spec: (i: number) => ReplicaSpec,
  ): Promise<ServiceReplicas> {
    const replicas: Replica[] = [];
    for (let i = 0; i < count; i++) {
      const port = await getFreePort();
      const name = count === 1 ? service : `${service}-${i}`;
      const { args, env } = spec(i);
      const process = new ThreadlineProcess({
        name,
        args,
        env: { ...env, HTTP_HOST: "127.0.0.1", HTTP_PORT: String(port), HOSTNAME: name },
        logDir,
      }).start();
      replicas.push({ name, process, url: `http://127.0.0.1:${port}`, out: false, paused: false });
    }
    return new ServiceReplicas(service, replicas);
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

  /** Every replica that is up answers /readyz with 200. */
  async ready(): Promise<boolean> {
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

async function readyz(url: string): Promise<number | undefined> {
  return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined))
    ?.status;
}
