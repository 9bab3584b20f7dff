/**
 * One HTTP exchange with Odoo (Node's global fetch), bounded by a timeout, with transport failures
 * turned into `OdooError`s that say whether the request can have reached Odoo: a refused connection
 * or a failed DNS lookup never sent anything; a reset connection or a timeout may have.
 */
import { CLOSED, OdooError, TIMEOUT } from "./errors.js";

export interface HttpRequest {
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborts the exchange (the client is closing). */
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
  /** `Retry-After`, in milliseconds, when the server sent one. */
  retryAfterMs?: number;
  /** `Location` of a redirect. */
  location?: string;
}

export const USER_AGENT = "threadline-odoo-connector";

/** Connection never established: the request cannot have been applied. */
const NOT_SENT: Record<string, string> = {
  ECONNREFUSED: "connection-refused",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  EAI_NONAME: "dns",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EHOSTDOWN: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  UND_ERR_CONNECT_TIMEOUT: "connect-timeout",
};

/** `odooName`s of failures where no HTTP answer arrived at all. */
export const TRANSPORT_FAILURES: ReadonlySet<string> = new Set([
  ...Object.values(NOT_SENT),
  "connection-reset",
  TIMEOUT,
]);

export async function httpExchange(req: HttpRequest): Promise<HttpAnswer> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const onAbort = () => controller.abort();
  req.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (req.signal?.aborted) throw new Error("aborted before sending");
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      ...(req.body !== undefined ? { body: req.body } : {}),
      signal: controller.signal,
      redirect: "manual",
    });
    const body = await res.text();
    const answer: HttpAnswer = {
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      body,
    };
    const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
    if (retryAfter !== undefined) answer.retryAfterMs = retryAfter;
    const location = res.headers.get("location");
    if (location) answer.location = location;
    return answer;
  } catch (err) {
    throw transportError(err, req, timedOut);
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", onAbort);
  }
}

function transportError(err: unknown, req: HttpRequest, timedOut: boolean): OdooError {
  if (timedOut)
    return new OdooError({
      odooName: TIMEOUT,
      odooMessage: `no answer from ${req.url} within ${req.timeoutMs} ms`,
      kind: "transient",
      ambiguous: true,
      cause: err,
    });
  if (req.signal?.aborted)
    return new OdooError({
      odooName: CLOSED,
      odooMessage: `request to ${req.url} abandoned: the Odoo client is closing`,
      kind: "permanent",
      ambiguous: true,
      cause: err,
    });
  const code = errorCode(err);
  const notSent = code ? NOT_SENT[code] : undefined;
  const detail = `${code ?? "network error"}: ${rootMessage(err)} (${req.url})`;
  if (notSent)
    return new OdooError({
      odooName: notSent,
      odooMessage: detail,
      kind: "transient",
      ambiguous: false,
      cause: err,
    });
  return new OdooError({
    odooName: "connection-reset",
    odooMessage: detail,
    kind: "transient",
    ambiguous: true,
    cause: err,
  });
}

/** The system or undici error code in a fetch failure's cause chain (`fetch failed` → cause → errors[]). */
function errorCode(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== "object" || depth > 4) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string" && e.code !== "ERR_INVALID_STATE") return e.code;
  if (Array.isArray(e.errors))
    for (const inner of e.errors) {
      const c = errorCode(inner, depth + 1);
      if (c) return c;
    }
  return errorCode(e.cause, depth + 1);
}

function rootMessage(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 4 && e instanceof Error && e.cause instanceof Error; i++) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** `Retry-After: <seconds>` or `Retry-After: <HTTP-date>`, in milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The start of a body, for error messages (proxy pages are short; tracebacks are not). */
export function snippet(body: string, max = 160): string {
  const title = /<title>([^<]*)<\/title>/i.exec(body)?.[1]?.trim();
  if (title) return title;
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** A JSON body, or undefined when the body is not JSON. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
