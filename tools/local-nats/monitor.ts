/**
 * Asking a local server about itself: the NATS greeting on its client port, the JSON endpoints of
 * its HTTP monitoring port (`/healthz`, `/jsz`, `/leafz`, `/varz`), and whether it is ready.
 */
import http from "node:http";
import net from "node:net";

/** Response of the monitoring endpoint `/jsz` (the parts used here). */
export interface JszInfo {
  server_id?: string;
  config?: { domain?: string; store_dir?: string };
  streams?: number;
  messages?: number;
  meta_cluster?: { name?: string; leader?: string; cluster_size?: number };
}

/** Response of the monitoring endpoint `/leafz` (the parts used here). */
export interface LeafzInfo {
  leafnodes: number;
  leafs: Array<{ account?: string; ip?: string; port?: number; subscriptions?: number }> | null;
}

/** Result of `/healthz`. */
export interface HealthStatus {
  ok: boolean;
  status: string;
  error?: string;
}

interface HttpResult {
  status: number;
  body: string;
}

function httpGet(url: string, timeoutMs = 2_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** Connects to a NATS client port and checks that the server greets with `INFO {...}`. */
function probeNatsPort(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    let buf = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on("data", (chunk: Buffer) => {
      buf += chunk.toString("utf8");
      if (buf.length >= 5) done(buf.startsWith("INFO "));
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

/** GET a monitoring endpoint (e.g. `"jsz"`, `"leafz"`, `"varz?x=y"`) and parse the JSON. */
export async function getMonitorJson<T>(monitorUrl: string, endpoint: string): Promise<T> {
  const res = await httpGet(`${monitorUrl}/${endpoint.replace(/^\//, "")}`);
  if (res.status !== 200) {
    throw new Error(`GET ${monitorUrl}/${endpoint} -> ${res.status}: ${res.body.trim()}`);
  }
  return JSON.parse(res.body) as T;
}

/** `/healthz` with an optional query; never throws (an unreachable server is `status: "unreachable"`). */
export async function getHealth(monitorUrl: string, query = ""): Promise<HealthStatus> {
  try {
    const res = await httpGet(`${monitorUrl}/healthz${query ? `?${query}` : ""}`, 1_000);
    const body = JSON.parse(res.body) as { status?: string; error?: string };
    const status: HealthStatus = { ok: res.status === 200, status: body.status ?? String(res.status) };
    if (body.error !== undefined) status.error = body.error;
    return status;
  } catch (err) {
    return { ok: false, status: "unreachable", error: (err as Error).message };
  }
}

/** The server {@link readinessProblem} checks. */
export interface ReadinessTarget {
  /** Its `server_name`: the monitoring port must answer as this server. */
  name: string;
  port: number;
  monitorUrl: string;
  jetstream: boolean;
  clustered: boolean;
}

/**
 * Why the server is not ready yet, or `undefined` when it is: the client port answers with `INFO`,
 * `/healthz` is ok (`?js-enabled-only=true` with JetStream; a standalone JetStream node must also
 * pass the full check, which covers recovered streams, while a cluster node's full health depends
 * on its peers), and `/varz` names this server.
 */
export async function readinessProblem(s: ReadinessTarget): Promise<string | undefined> {
  if (!(await probeNatsPort(s.port))) return `client port ${s.port} not accepting NATS connections`;
  const healthPath = s.jetstream ? "/healthz?js-enabled-only=true" : "/healthz";
  try {
    const res = await httpGet(s.monitorUrl + healthPath, 1_000);
    if (res.status !== 200) return `${healthPath} -> ${res.status} ${res.body.trim()}`;
    if (!s.clustered && s.jetstream) {
      const full = await httpGet(`${s.monitorUrl}/healthz`, 1_000);
      if (full.status !== 200) return `/healthz -> ${full.status} ${full.body.trim()}`;
    }
    // Make sure it is *our* process answering on these ports.
    const varz = JSON.parse((await httpGet(`${s.monitorUrl}/varz`, 1_000)).body) as {
      server_name?: string;
    };
    if (varz.server_name !== s.name) {
      return `monitor port answered as server ${JSON.stringify(String(varz.server_name))}, not ${JSON.stringify(s.name)}`;
    }
    return undefined;
  } catch (err) {
    return `monitoring endpoint not reachable: ${(err as Error).message}`;
  }
}
