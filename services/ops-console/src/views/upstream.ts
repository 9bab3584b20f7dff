/**
 * Another service's JSON API as the console calls it (the quality service, the genealogy builder):
 * over HTTP only — the console imports no other service's code —, with the console's bearer token
 * (never logged, never put in a message), a timeout (UPSTREAM_TIMEOUT_MS), and each answer checked by a
 * small zod schema of what the console reads. What the other service says when it refuses is passed
 * on in its own words:
 *
 * | upstream | console |
 * |---|---|
 * | 2xx | the JSON, checked |
 * | 400 | CONSOLE_REQUEST_INVALID, its message |
 * | 404 | CONSOLE_NOT_FOUND, its message |
 * | any other status, no answer, a timeout, not JSON | CONSOLE_UPSTREAM_FAILED: `<service> answered <status> <code>: <message>` |
 */
import type { z } from "zod";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";

/** A refusal or failure of another service, with its HTTP status and error code when it answered. */
export class UpstreamError extends ConsoleError {
  constructor(
    code: ConsoleErrorCode,
    message: string,
    /** The other service's HTTP status; 0 when it did not answer. */
    readonly status: number,
    /** The other service's error code (`QUALITY_HOLD_ALREADY_DECIDED`), when it gave one. */
    readonly upstreamCode: string | null,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export interface UpstreamSettings {
  /** The service as messages name it: `quality service`, `genealogy builder`. */
  readonly service: string;
  /** Its base URL: `http://quality-service:9480`. */
  readonly url: string;
  /** The console's bearer token there. */
  readonly token: string;
  readonly timeoutMs: number;
}

/** The most of an error body's message passed on (an HTML error page is not a message). */
const MESSAGE_MAX = 500;

export class UpstreamClient {
  readonly service: string;
  readonly #base: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(settings: UpstreamSettings) {
    this.service = settings.service;
    this.#base = settings.url.replace(/\/+$/, "");
    this.#token = settings.token;
    this.#timeoutMs = settings.timeoutMs;
  }

  /** GET `path` (with its query string, parameters already encoded), the answer checked by `schema`. */
  get<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
    return this.#call("GET", path, undefined, schema);
  }

  /** POST a JSON body to `path`, the answer checked by `schema`. */
  post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.output<S>> {
    return this.#call("POST", path, body, schema);
  }

  async #call<S extends z.ZodType>(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    schema: S,
  ): Promise<z.output<S>> {
    const what = `${method} ${path.split("?")[0]}`;
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: {
          accept: "application/json",
          authorization: `Bearer ${this.#token}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        redirect: "error",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why =
        e.name === "TimeoutError"
          ? `no answer within ${this.#timeoutMs} ms`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new UpstreamError(
        ConsoleErrorCode.UpstreamFailed,
        `${this.service} did not answer ${what} at ${this.#base}: ${why}`,
        0,
        null,
        { cause: err },
      );
    }
    const text = await res.text().catch(() => "");
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const e = (data as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      const code = typeof e?.code === "string" ? e.code : null;
      const message =
        typeof e?.message === "string" ? e.message : text.trim().slice(0, MESSAGE_MAX) || res.statusText;
      if (res.status === 404) throw new UpstreamError(ConsoleErrorCode.NotFound, message, res.status, code);
      if (res.status === 400)
        throw new UpstreamError(ConsoleErrorCode.RequestInvalid, message, res.status, code);
      throw new UpstreamError(
        ConsoleErrorCode.UpstreamFailed,
        `${this.service} answered ${res.status} ${code ?? res.statusText}: ${message}`,
        res.status,
        code,
      );
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UpstreamError(
        ConsoleErrorCode.UpstreamFailed,
        `${this.service} answered ${what} with what the console does not understand: ${issue?.path.join(".") || "(the body)"} ${issue?.message ?? "is invalid"}`,
        res.status,
        null,
      );
    }
    return parsed.data;
  }
}

/** The error every call of a service the console is not configured for answers. */
export function notConfigured(service: string, keys: string): ConsoleError {
  return new ConsoleError(
    ConsoleErrorCode.UpstreamFailed,
    `${service} not configured: the console needs ${keys} to show this page`,
  );
}
