/**
 * Signing in and out: `/auth/local` (a local account's name and password), `/auth/oidc` and
 * `/auth/callback` (OpenID Connect, code flow with PKCE), `/auth/logout`, and `/api/session` (who is
 * signed in, the CSRF token the page sends back). A sign-in opens a session in the sessions bucket and
 * sets the session cookie; every failure is logged with its reason and answered without a session.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { LocalAccounts } from "../accounts.js";
import { ConsoleError, ConsoleErrorCode } from "../errors.js";
import type { OidcSignIn, PendingSignIn } from "../oidc.js";
import type { Identity } from "../roles.js";
import { sessionCookie, signInCookie } from "./cookies.js";
import {
  clientAddress,
  fromOwnOrigin,
  type GuardDeps,
  requireSession,
  sameToken,
  whenReady,
  zodMessage,
} from "./guard.js";
import { SignInThrottle, StartLimit } from "./throttle.js";

export interface AuthDeps extends GuardDeps {
  readonly accounts: LocalAccounts | undefined;
  readonly oidc: () => OidcSignIn | undefined;
  /** The provider's name on the sign-in button. */
  readonly oidcLabel: string;
  readonly sessionTtlMs: number;
}

const LocalSignIn = z.strictObject({
  name: z.string().min(1, { error: "must not be empty" }).max(64),
  password: z.string().min(1, { error: "must not be empty" }).max(1024),
});

/** A path of this console to go back to after the sign-in: never another site (`//evil`, `https:`). */
export function safeReturnTo(value: unknown): string {
  return typeof value === "string" && /^\/(?![/\\])[^\s]*$/.test(value) ? value : "/";
}

export function registerAuthRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const throttle = new SignInThrottle();
  const starts = new StartLimit();

  const openSession = async (reply: FastifyReply, identity: Identity) => {
    const store = whenReady(deps.sessions)();
    const { token, session } = await store.open(identity);
    reply.setCookie(deps.cookies.session, token, sessionCookie(deps.cookies, deps.sessionTtlMs));
    deps.logger.info({ user: identity.name, via: identity.via, roles: identity.roles }, "console sign-in");
    return session;
  };

  app.get("/auth/methods", async () => ({
    local: deps.accounts !== undefined,
    oidc: deps.oidc() !== undefined ? { label: deps.oidcLabel, url: "/auth/oidc" } : null,
  }));

  app.post("/auth/local", async (request, reply) => {
    if (!deps.accounts)
      throw new ConsoleError(ConsoleErrorCode.SignInFailed, "local accounts are not enabled on this console");
    if (!fromOwnOrigin(request, deps.origin()))
      throw new ConsoleError(
        ConsoleErrorCode.CsrfRejected,
        "a sign-in must come from the console's own page",
      );
    const parsed = LocalSignIn.safeParse(request.body ?? {});
    if (!parsed.success)
      throw new ConsoleError(ConsoleErrorCode.RequestInvalid, zodMessage("body", parsed.error));
    const { name, password } = parsed.data;
    const ip = clientAddress(request, deps.proxyHops);
    const key = `${name}|${ip}`;
    const wait = throttle.blockedFor(key);
    if (wait > 0) {
      deps.logger.warn({ user: name, ip }, "console sign-in refused: too many failures");
      return reply
        .code(429)
        .header("retry-after", Math.ceil(wait / 1000))
        .send({
          error: {
            code: ConsoleErrorCode.SignInFailed,
            message: `too many failed sign-ins for ${name}: try again in ${Math.ceil(wait / 1000)} s`,
          },
        });
    }
    const identity = await deps.accounts.verify(name, password);
    if (!identity) {
      throttle.failed(key);
      deps.logger.warn({ user: name, ip }, "console sign-in failed: wrong name or password");
      throw new ConsoleError(ConsoleErrorCode.SignInFailed, "wrong name or password");
    }
    throttle.succeeded(key);
    const session = await openSession(reply, identity);
    return {
      user: userOf(session.identity),
      csrf: session.csrf,
      expiresAt: new Date(session.expiresAt).toISOString(),
    };
  });

  app.get("/auth/oidc", async (request, reply) => {
    const oidc = deps.oidc();
    if (!oidc)
      throw new ConsoleError(ConsoleErrorCode.SignInFailed, "OpenID Connect is not enabled on this console");
    const store = whenReady(deps.sessions)();
    // Each start writes a pending sign-in: bounded per address and in all, so no one can fill the bucket.
    const ip = clientAddress(request, deps.proxyHops);
    const wait = starts.take(ip);
    if (wait > 0) {
      deps.logger.warn({ ip }, "console OIDC sign-in refused: too many started");
      reply.header("retry-after", Math.ceil(wait / 1000));
      throw new ConsoleError(
        ConsoleErrorCode.TooMany,
        `too many sign-ins started: try again in ${Math.ceil(wait / 1000)} s`,
      );
    }
    const { url, ...pending } = oidc.start(
      safeReturnTo((request.query as Record<string, unknown>)["returnTo"]),
    );
    const token = await store.putPending(pending);
    reply.setCookie(deps.cookies.signIn, token, signInCookie(deps.cookies));
    return reply.redirect(url, 302);
  });

  app.get("/auth/callback", async (request, reply) => {
    const oidc = deps.oidc();
    const store = deps.sessions();
    const fail = (err: unknown) => {
      const e =
        err instanceof ConsoleError
          ? err
          : new ConsoleError(ConsoleErrorCode.SignInFailed, `the sign-in failed: ${(err as Error).message}`, {
              cause: err,
            });
      deps.logger.warn({ code: e.code, reason: e.message }, "console OIDC sign-in failed");
      // Only the code travels in the address (logs keep addresses); the page says what it means, and
      // the reason (the claim's values, the check that failed) is in the console's log above.
      return reply.redirect(`/?${new URLSearchParams({ error: e.code }).toString()}#signin`, 302);
    };
    reply.clearCookie(deps.cookies.signIn, signInCookie(deps.cookies));
    if (!oidc || !store)
      return fail(new ConsoleError(ConsoleErrorCode.SignInFailed, "OpenID Connect is not ready"));
    try {
      const pending = await store.takePending<PendingSignIn>(request.cookies[deps.cookies.signIn]);
      if (!pending)
        throw new ConsoleError(
          ConsoleErrorCode.SignInFailed,
          "this sign-in was not started here, was used already or took too long: sign in again",
        );
      const callback = new URL(request.url, deps.origin());
      const { returnTo, ...identity } = await oidc.finish(callback, pending);
      await openSession(reply, identity);
      return reply.redirect(safeReturnTo(returnTo), 302);
    } catch (err) {
      return fail(err);
    }
  });

  app.post("/auth/logout", async (request, reply) => {
    const { session, token } = await requireSession(deps, request);
    if (
      !fromOwnOrigin(request, deps.origin()) ||
      !sameToken(request.headers["x-csrf-token"] as string | undefined, session.csrf)
    )
      throw new ConsoleError(ConsoleErrorCode.CsrfRejected, "sign-out must come from the console's page");
    await deps.sessions()?.close(token);
    reply.clearCookie(deps.cookies.session, {
      path: "/",
      secure: deps.cookies.secure,
      sameSite: "lax",
      httpOnly: true,
    });
    deps.logger.info({ user: session.identity.name }, "console sign-out");
    const endSession =
      session.identity.via === "oidc" ? deps.oidc()?.endSessionUrl(`${deps.origin()}/`) : undefined;
    return { signedOut: true, ...(endSession ? { endSession } : {}) };
  });

  app.get("/api/session", async (request: FastifyRequest) => {
    const { session } = await requireSession(deps, request);
    return {
      user: userOf(session.identity),
      csrf: session.csrf,
      expiresAt: new Date(session.expiresAt).toISOString(),
    };
  });
}

function userOf(identity: { name: string; roles: readonly string[]; via: string }) {
  return { name: identity.name, roles: identity.roles, via: identity.via };
}
