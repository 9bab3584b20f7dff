/**
 * OpenID Connect sign-in: the authorization code flow with PKCE (S256), state and nonce. Every protocol
 * step and check is openid-client's; this file adds the console's own rules: an https issuer (http only
 * for a loopback test provider), a sign-in finished within 10 minutes, and a role-granting claim.
 */
import { createHash } from "node:crypto";
import * as client from "openid-client";
import { ConsoleError, ConsoleErrorCode } from "./errors.js";
import { type ConsoleRole, type Identity, rolesFromClaim } from "./roles.js";

export interface OidcSettings {
  /** The provider's issuer URL (discovery at <issuer>/.well-known/openid-configuration). */
  readonly issuer: string;
  readonly clientId: string;
  /** Absent: a public client (PKCE only, token endpoint auth "none"). */
  readonly clientSecret?: string;
  /** The console's callback URL, registered at the provider, e.g. https://console.plant/auth/callback */
  readonly redirectUri: string;
  /** @default "openid profile" plus the scope named like the role claim ("groups") */
  readonly scopes?: string;
  /** The claim whose values grant roles, read from the ID token claims, else the userinfo. @default "groups" */
  readonly roleClaim?: string;
  /** Claim value -> console roles. */
  readonly roleMap: Readonly<Record<string, readonly ConsoleRole[]>>;
  /** Allow http:// issuers on a loopback address (tests, the demo); any other http issuer is refused. @default false */
  readonly allowHttp?: boolean;
}

/**
 * What must survive between start() and finish(): the caller keeps it in a short-lived, httpOnly,
 * SameSite=Lax cookie (Strict would not come back with the provider's redirect) or server-side. It is
 * secret: it holds the PKCE verifier.
 */
export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
  /** Date.now() at start(). */
  readonly startedAt: number;
}

const MAX_SIGN_IN_AGE_MS = 10 * 60_000;
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

export class OidcSignIn {
  private constructor(
    private readonly config: client.Configuration,
    private readonly settings: OidcSettings,
    private readonly roleClaim = settings.roleClaim ?? "groups",
  ) {}

  /** Discovers the provider; fails with ConsoleError ConfigInvalid naming the issuer and why. */
  static async discover(settings: OidcSettings): Promise<OidcSignIn> {
    const issuer = issuerUrl(settings);
    const auth =
      settings.clientSecret === undefined ? client.None() : client.ClientSecretBasic(settings.clientSecret);
    const execute = issuer.protocol === "http:" ? [client.allowInsecureRequests] : [];
    const config = await client
      .discovery(issuer, settings.clientId, undefined, auth, { execute })
      .catch((err) => {
        const why = `cannot discover the OpenID provider ${settings.issuer}: ${explain(err)}`;
        throw new ConsoleError(ConsoleErrorCode.ConfigInvalid, why, { cause: err });
      });
    return new OidcSignIn(config, settings);
  }

  /** The authorization URL to send the browser to, and what to keep until the callback. */
  start(returnTo?: string): PendingSignIn & { url: string } {
    const pending: PendingSignIn = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
      returnTo: safeReturnTo(returnTo),
      startedAt: Date.now(),
    };
    const scope = this.settings.scopes ?? `openid profile ${this.roleClaim}`;
    const url = client.buildAuthorizationUrl(this.config, {
      redirect_uri: this.settings.redirectUri,
      // Without openid there is no ID token, hence no nonce check and no subject.
      scope: scope.split(/\s+/).includes("openid") ? scope : `openid ${scope}`,
      // RFC 7636 S256, as client.calculatePKCECodeChallenge computes it; that one is async (WebCrypto)
      // and start() is not, for the route that redirects with it.
      code_challenge: createHash("sha256").update(pending.codeVerifier).digest("base64url"),
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    });
    return { ...pending, url: url.href };
  }

  /** Completes the sign-in from the URL the browser came back to (the redirect URI with its query). */
  async finish(callbackUrl: URL, pending: PendingSignIn): Promise<Identity & { returnTo: string }> {
    if (!(Date.now() - pending.startedAt <= MAX_SIGN_IN_AGE_MS))
      throw failed("sign-in older than 10 minutes: start again");
    // openid-client sends the token endpoint the redirect_uri it reads off this URL: behind a proxy the
    // URL the console sees is not the registered one, so only the query is taken from the callback.
    const current = new URL(this.settings.redirectUri);
    current.search = callbackUrl.search;
    const tokens = await client
      .authorizationCodeGrant(this.config, current, {
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        pkceCodeVerifier: pending.codeVerifier,
      })
      .catch((err: unknown) => {
        throw failed(explain(err), err);
      });
    const idToken = tokens.claims();
    if (!idToken) throw failed("the provider returned no ID token");
    const { roleClaim } = this;
    let claims: Record<string, unknown> = idToken;
    // Some providers (oidc-provider by default) put the claims a scope grants, such as groups and
    // preferred_username, in the userinfo only, not in the ID token of a code flow.
    if (
      (claims[roleClaim] === undefined || claims["preferred_username"] === undefined) &&
      this.config.serverMetadata().userinfo_endpoint
    ) {
      const userinfo = await client
        .fetchUserInfo(this.config, tokens.access_token, idToken.sub)
        .catch((err) => {
          throw failed(`the userinfo request failed: ${explain(err)}`, err);
        });
      claims = { ...userinfo, ...idToken };
    }
    const name =
      [claims["preferred_username"], claims["email"]].find(
        (v): v is string => typeof v === "string" && v !== "",
      ) ?? idToken.sub;
    const roles = rolesFromClaim(claims[roleClaim], this.settings.roleMap);
    if (roles.length === 0) {
      const held =
        claims[roleClaim] === undefined ? "is absent" : `holds ${JSON.stringify(claims[roleClaim])}`;
      throw new ConsoleError(
        ConsoleErrorCode.NoRole,
        `${name} has no console role: the "${roleClaim}" claim ${held}, and the role map grants a role to none of its values`,
      );
    }
    const issuer = this.config.serverMetadata().issuer;
    return {
      name,
      subject: `oidc:${issuer}#${idToken.sub}`,
      roles,
      via: "oidc",
      // The pending sign-in may come from a cookie: never trust it to be what start() made.
      returnTo: safeReturnTo(pending.returnTo),
    };
  }

  /** The provider's RP-initiated logout URL, or undefined when it has no end_session_endpoint. */
  endSessionUrl(postLogoutRedirectUri: string): string | undefined {
    if (!this.config.serverMetadata().end_session_endpoint) return undefined;
    return client.buildEndSessionUrl(this.config, { post_logout_redirect_uri: postLogoutRedirectUri }).href;
  }
}

function issuerUrl(settings: OidcSettings): URL {
  const invalid = (why: string) =>
    new ConsoleError(ConsoleErrorCode.ConfigInvalid, `the OIDC issuer ${settings.issuer} ${why}`);
  const url = URL.canParse(settings.issuer) ? new URL(settings.issuer) : undefined;
  if (!url) throw invalid("is not a URL");
  if (url.protocol === "https:") return url;
  if (url.protocol !== "http:") throw invalid("is not an https URL");
  // Over plain http the codes and tokens cross the network readable: only a provider on this machine.
  if (!settings.allowHttp || !LOOPBACK_HOST.test(url.hostname))
    throw invalid("is http://: only https is accepted, or http on a loopback address with allowHttp");
  return url;
}

/** A same-origin path, else "/": "//host" and "/\host" are other origins to a browser. */
function safeReturnTo(returnTo: string | undefined): string {
  return returnTo !== undefined && /^\/(?![/\\])[^\\\p{Cc}]*$/u.test(returnTo) ? returnTo : "/";
}

function failed(message: string, cause?: unknown): ConsoleError {
  return new ConsoleError(ConsoleErrorCode.SignInFailed, message, { cause });
}

/** openid-client's errors, with the provider's own error code and the check that failed. */
function explain(err: unknown): string {
  if (err instanceof client.AuthorizationResponseError || err instanceof client.ResponseBodyError)
    return `the provider answered error=${err.error}${err.error_description ? `: ${err.error_description}` : ""}`;
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}
