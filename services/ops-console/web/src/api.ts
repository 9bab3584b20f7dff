/**
 * The console's API from the page: JSON in and out, the session cookie sent by the browser, the CSRF
 * token added to every action. An answer that is not 2xx becomes an {@link ApiError} carrying the
 * server's code and message, shown as they are: they name what was wrong.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface User {
  readonly name: string;
  readonly roles: readonly string[];
  readonly via: string;
}

let csrf = "";
let onSignedOut: () => void = () => undefined;

export function setCsrf(token: string): void {
  csrf = token;
}

/** What to do when the server says the session is gone (expired, signed out elsewhere). */
export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn;
}

export async function api<T = Record<string, unknown>>(
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = csrf;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (err) {
    throw new ApiError(0, "NETWORK", `the console did not answer: ${(err as Error).message}`);
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: { code: `HTTP_${res.status}`, message: text.slice(0, 200) } };
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string } }).error ?? {};
    const err = new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText);
    // The session ended under a page that had one (the sign-in's own calls are answered where made).
    if (res.status === 401 && path !== "/api/session" && !path.startsWith("/auth/")) onSignedOut();
    throw err;
  }
  return data as T;
}

/** Query string from the non-empty fields. */
export function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** An error as a page shows it: the server's message and its code. */
export function messageOf(err: unknown): string {
  return err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
}
