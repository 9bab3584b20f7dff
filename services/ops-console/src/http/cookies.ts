/**
 * The console's cookies. The session cookie is httpOnly (no script reads it), SameSite=Lax (sent on
 * the provider's redirect back, never on another site's POST) and, behind https, `Secure` with the
 * `__Host-` prefix (no subdomain can set or shadow it). The sign-in cookie lives ten minutes, on /auth.
 */
import type { CookieSerializeOptions } from "@fastify/cookie";

export interface CookiePolicy {
  readonly session: string;
  readonly signIn: string;
  readonly secure: boolean;
}

export function cookiePolicy(publicUrl: URL): CookiePolicy {
  const secure = publicUrl.protocol === "https:";
  return {
    session: secure ? "__Host-tl_session" : "tl_session",
    signIn: secure ? "__Host-tl_signin" : "tl_signin",
    secure,
  };
}

export const SIGN_IN_MAX_AGE_S = 600;

export function sessionCookie(policy: CookiePolicy, maxAgeMs: number): CookieSerializeOptions {
  return {
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure: policy.secure,
    maxAge: Math.floor(maxAgeMs / 1000),
  };
}

export function signInCookie(policy: CookiePolicy): CookieSerializeOptions {
  // `__Host-` needs Path=/; otherwise /auth keeps it off every API request.
  return {
    path: policy.secure ? "/" : "/auth",
    httpOnly: true,
    sameSite: "lax",
    secure: policy.secure,
    maxAge: SIGN_IN_MAX_AGE_S,
  };
}
