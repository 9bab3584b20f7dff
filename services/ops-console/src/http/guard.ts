/**
 * Every console route goes through {@link consoleRoute}: the session is read (401 without one), the
 * role of the route's action checked (403, logged, and for an action also written to the audit trail
 * as refused), a state-changing request must carry the session's CSRF token and come from the
 * console's own origin (403), and the query, parameters and body are parsed by the route's schemas
 * (400 naming the field) — all before the handler runs, so a refused request changes nothing.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Logger } from "../../../../streams/src/index.js";
import { ConsoleError, ConsoleErrorCode, HTTP_STATUS } from "../errors.js";
import { ACTION_ROLE, type ConsoleAction, type Identity, may } from "../roles.js";
import type { Session, SessionStore } from "../sessions.js";
import type { CookiePolicy } from "./cookies.js";

export interface GuardDeps {
  /** Undefined while the service starts (the routes answer 503). */
  readonly sessions: () => SessionStore | undefined;
  readonly cookies: CookiePolicy;
  /**
   * The console's origin (`https://console.plant`): an action's Origin must be this one. A function:
   * with HTTP_PORT 0 it is known once the server listens.
   */
  readonly origin: () => string;
  readonly logger: Logger;
  /**
   * Proxies in front of the console that append to `X-Forwarded-For` (an ingress: 1): the client's
   * address is that many entries from the end. 0: the connection's own address. @default 0
   */
  readonly proxyHops?: number;
  /** Writes a refused action to the audit trail. */
  readonly refused?: (
    identity: Identity,
    action: ConsoleAction,
    what: string,
    params: Readonly<Record<string, string>>,
  ) => Promise<void>;
}

export interface RouteInput<Q, P, B> {
  readonly identity: Identity;
  readonly session: Session;
  readonly query: Q;
  readonly params: P;
  readonly body: B;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

export interface RouteSpec<Q extends z.ZodType, P extends z.ZodType, B extends z.ZodType> {
  readonly method: "GET" | "POST" | "DELETE";
  readonly url: string;
  /** What it does, for the role check and the refusal's message. */
  readonly action: ConsoleAction;
  readonly query?: Q;
  readonly params?: P;
  readonly body?: B;
}

const NONE = z.strictObject({});

/** Answers an error as `{ error: { code, message } }` with the code's status. */
export function sendError(reply: FastifyReply, err: ConsoleError): FastifyReply {
  return reply.code(HTTP_STATUS[err.code]).send({ error: { code: err.code, message: err.message } });
}

/** The first problem of a zod error, naming the field: `query.since: must be ...`. */
export function zodMessage(where: string, error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue?.path.length ? `${where}.${issue.path.join(".")}` : where;
  return `${path}: ${issue?.message ?? "is invalid"}`;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> {
  const result = (schema ?? NONE).safeParse(value ?? {});
  if (!result.success)
    throw new ConsoleError(ConsoleErrorCode.RequestInvalid, zodMessage(where, result.error));
  return result.data as z.infer<T>;
}

export function sameToken(given: string | undefined, want: string): boolean {
  const a = Buffer.from(given ?? "");
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether a request that changes something comes from the console's own page: the browser's
 * `Sec-Fetch-Site` (when it sends one) says same-origin, and its `Origin` (when it sends one) is ours.
 */
export function fromOwnOrigin(request: FastifyRequest, origin: string): boolean {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") return false;
  const from = request.headers.origin;
  return from === undefined || from === origin;
}

/**
 * The client's address: the connection's, or behind `proxyHops` proxies the entry they appended to
 * `X-Forwarded-For` (entries before it are the client's word, not a proxy's).
 */
export function clientAddress(request: FastifyRequest, proxyHops = 0): string {
  if (proxyHops <= 0) return request.ip;
  const header = request.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  return hops[hops.length - proxyHops] ?? request.ip;
}

/** A route's path parameters for the audit trail: at most 4, each cut to 100 characters. */
function boundedParams(params: unknown): Record<string, string> {
  if (params === null || typeof params !== "object") return {};
  return Object.fromEntries(
    Object.entries(params as Record<string, unknown>)
      .slice(0, 4)
      .map(([k, v]) => [k.slice(0, 40), String(v).slice(0, 100)]),
  );
}

/** What a route reads once the service runs: `get()`, or 503 CONSOLE_NOT_READY while it starts or stops. */
export function whenReady<T>(get: () => T | undefined): () => T {
  return () => {
    const value = get();
    if (value === undefined)
      throw new ConsoleError(ConsoleErrorCode.NotReady, "the console is starting: try again");
    return value;
  };
}

/** The live session of the request; 401 without one. */
export async function requireSession(
  deps: GuardDeps,
  request: FastifyRequest,
): Promise<{ session: Session; token: string }> {
  const store = whenReady(deps.sessions)();
  const token = request.cookies[deps.cookies.session];
  const session = await store.read(token);
  if (!session || !token)
    throw new ConsoleError(
      ConsoleErrorCode.Unauthenticated,
      token ? "your session has expired or was signed out: sign in again" : "sign in first",
    );
  return { session, token };
}

export function consoleRoute<Q extends z.ZodType, P extends z.ZodType, B extends z.ZodType>(
  app: FastifyInstance,
  deps: GuardDeps,
  spec: RouteSpec<Q, P, B>,
  handler: (input: RouteInput<z.infer<Q>, z.infer<P>, z.infer<B>>) => Promise<unknown>,
): void {
  const changes = spec.method !== "GET";
  app.route({
    method: spec.method,
    url: spec.url,
    handler: async (request, reply) => {
      const { session } = await requireSession(deps, request);
      const identity = session.identity;
      if (
        changes &&
        (!fromOwnOrigin(request, deps.origin()) ||
          !sameToken(request.headers["x-csrf-token"] as string | undefined, session.csrf))
      ) {
        deps.logger.warn(
          { user: identity.name, method: spec.method, url: request.url, origin: request.headers.origin },
          "console action refused: no valid CSRF token or another origin",
        );
        throw new ConsoleError(
          ConsoleErrorCode.CsrfRejected,
          "this action did not come from the console's page with its token: reload the page and try again",
        );
      }
      if (!may(identity, spec.action)) {
        const role = ACTION_ROLE[spec.action];
        deps.logger.warn(
          { user: identity.name, roles: identity.roles, action: spec.action, url: request.url },
          "console action refused: role missing",
        );
        // The route's pattern, not the URL a caller chose: a refusal must not let anyone fill the trail.
        if (changes)
          await deps.refused?.(
            identity,
            spec.action,
            `${spec.method} ${spec.url}`,
            boundedParams(request.params),
          );
        throw new ConsoleError(
          ConsoleErrorCode.Forbidden,
          `${spec.action} needs the ${role} role; ${identity.name} has ${identity.roles.join(", ")}`,
        );
      }
      const query = parse(spec.query, request.query, "query");
      const params = parse(spec.params, request.params, "params");
      const body = parse(spec.body, request.body, "body");
      return handler({ identity, session, query, params, body, request, reply });
    },
  });
}
