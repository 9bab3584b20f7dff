/**
 * What the CLI's clients of a service's HTTP API share (genealogy-client.ts, quality-client.ts): the
 * service's base URL from a flag or a variable, the bearer token from a file or a variable (never
 * printed), and one request with node's http client.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { UsageError } from "./run.js";

/** A request that got no answer within its time. */
export class TimeoutError extends Error {}

/**
 * The service's base URL: the flag, else the variable, else the default; without a trailing slash.
 * @throws UsageError when it is not an http(s) URL
 */
export function serviceUrl(flag: string | undefined, fromEnv: string | undefined, fallback: string): string {
  const url = flag ?? (fromEnv || fallback);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url ${url} is not a URL (expected e.g. ${fallback})`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new UsageError(`--url must start with http:// or https:// (got ${parsed.protocol}//)`);
  return url.replace(/\/+$/, "");
}

/**
 * The bearer token: --token-file's first line, else the variable `variable` of `env`.
 * @throws UsageError when there is none, naming the service `service`
 */
export function bearerToken(
  tokenFile: string | undefined,
  env: NodeJS.ProcessEnv,
  variable: string,
  service: string,
): string {
  if (tokenFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(tokenFile, "utf8");
    } catch (err) {
      throw new UsageError(
        `--token-file ${tokenFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
    const token = text.split(/\r?\n/)[0]?.trim() ?? "";
    if (token === "") throw new UsageError(`--token-file ${tokenFile} is empty`);
    return token;
  }
  const token = env[variable]?.trim();
  if (!token)
    throw new UsageError(
      `the ${service} needs its bearer token: set $${variable} or pass --token-file <file>`,
    );
  return token;
}

/**
 * One request with node's http client rather than fetch: fetch gives up waiting for an answer's
 * headers after 5 minutes whatever its signal says, and a genealogy rebuild may take longer.
 * A JSON `body` is sent with its content type.
 */
export function send(
  method: string,
  target: string,
  headers: Record<string, string>,
  timeoutMs: number,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const client = target.startsWith("https:") ? https : http;
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), "utf8");
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method,
        headers: {
          ...headers,
          accept: "application/json, application/ld+json",
          ...(payload
            ? { "content-type": "application/json", "content-length": String(payload.length) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new TimeoutError()));
    req.on("error", reject);
    req.end(payload);
  });
}
