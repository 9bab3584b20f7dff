/**
 * The ops console's settings: env variables (or the THREADLINE_CONFIG file, same keys), zod-validated,
 * each error naming its variable. Sign-in is through OpenID Connect (OIDC_*), local accounts
 * (CONSOLE_ACCOUNTS_FILE, accounts.ts), or both; at least one must be configured.
 */
import { z } from "zod";
import { BaseServiceConfig } from "../../../streams/src/index.js";
import { CONSOLE_ROLES } from "./roles.js";

const optional = z
  .string()
  .optional()
  .transform((v) => v || undefined);

const flag = z
  .enum(["true", "false"], { error: "must be true or false" })
  .default("false")
  .transform((v) => v === "true");

/** `{ "<claim value>": ["operator", ...] }`, given as JSON text. */
const RoleMap = z.record(z.string().min(1), z.array(z.enum(CONSOLE_ROLES)).min(1));

export const ConsoleConfig = BaseServiceConfig.extend({
  /** The console's page and API (and /metrics, /healthz, /readyz). @default 9490 */
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(9490),
  /**
   * The address browsers reach the console at: the OIDC redirect URI is made from it, the Origin of
   * every action is checked against it, and an https address makes the cookies `Secure`.
   * @default http://127.0.0.1:<HTTP_PORT>
   */
  CONSOLE_PUBLIC_URL: optional.pipe(z.url({ error: "must be an http(s) URL" }).optional()),
  /**
   * Serve a non-loopback http:// public address (cookies without `Secure`): only on a plant network
   * where TLS ends in front of the console is this right. @default false: refused
   */
  CONSOLE_ALLOW_HTTP: flag,
  /**
   * Proxies in front of the console that append the client's address to `X-Forwarded-For` (behind an
   * ingress: 1). The sign-in throttle and the logs use the address they saw. @default 0: the connection's
   */
  CONSOLE_PROXY_HOPS: z.coerce.number().int().min(0).max(5).default(0),
  /** Local accounts (accounts.ts), a JSON file. @default none */
  CONSOLE_ACCOUNTS_FILE: optional,
  /** How long a session lasts, from sign-in (a shift and some). @default 43200000 (12 h) */
  CONSOLE_SESSION_TTL_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .max(7 * 86_400_000)
    .default(12 * 3_600_000),
  /** The OpenID provider's issuer URL. @default none: no OIDC sign-in */
  OIDC_ISSUER: optional.pipe(z.url({ error: "must be the issuer's URL" }).optional()),
  OIDC_CLIENT_ID: optional,
  /** The console's client secret at the provider (never logged). @default none: a public client (PKCE) */
  OIDC_CLIENT_SECRET: optional,
  /** The claim whose values grant roles. @default groups */
  OIDC_ROLE_CLAIM: z.string().min(1).default("groups"),
  /** Claim value → console roles, as JSON: `{"plant-ops":["operator"],"qa":["quality"],"staff":["viewer"]}`. */
  OIDC_ROLE_MAP: optional,
  /** Accept an http:// issuer on a loopback address (tests, the demo). @default false */
  OIDC_ALLOW_HTTP: flag,
  /** The quality service's API (holds, charts, release). @default http://127.0.0.1:9480 */
  QUALITY_URL: z.url({ error: "must be an http(s) URL" }).default("http://127.0.0.1:9480"),
  /** The console's bearer token at the quality service (a user with read, hold and release; never logged). */
  QUALITY_API_TOKEN: optional,
  /** The genealogy builder's API (trace, recall). @default http://127.0.0.1:9470 */
  GENEALOGY_URL: z.url({ error: "must be an http(s) URL" }).default("http://127.0.0.1:9470"),
  /** The genealogy builder's bearer token (never logged). */
  GENEALOGY_API_TOKEN: optional,
  /** The Odoo connector's address: the console reads its /metrics (breaker, sync age, backlog, drift). */
  ODOO_CONNECTOR_URL: optional.pipe(z.url({ error: "must be an http(s) URL" }).optional()),
  /** The connector's METRICS_TOKEN (never logged). @default none: its /metrics is open */
  ODOO_CONNECTOR_METRICS_TOKEN: optional,
  /** How long a call to another service may take. @default 5000 */
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
}).superRefine((c, ctx) => {
  const oidc = [c.OIDC_ISSUER, c.OIDC_CLIENT_ID, c.OIDC_ROLE_MAP];
  if (oidc.some(Boolean) && !oidc.every(Boolean))
    ctx.addIssue({
      code: "custom",
      path: ["OIDC_ISSUER"],
      message: "OIDC sign-in needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_ROLE_MAP together",
    });
  if (!c.OIDC_ISSUER && !c.CONSOLE_ACCOUNTS_FILE)
    ctx.addIssue({
      code: "custom",
      path: ["CONSOLE_ACCOUNTS_FILE"],
      message:
        "no way to sign in: set OIDC_ISSUER (with OIDC_CLIENT_ID, OIDC_ROLE_MAP) or CONSOLE_ACCOUNTS_FILE",
    });
  if (c.OIDC_ROLE_MAP) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(c.OIDC_ROLE_MAP);
    } catch {
      ctx.addIssue({ code: "custom", path: ["OIDC_ROLE_MAP"], message: "must be JSON" });
      return;
    }
    const map = RoleMap.safeParse(parsed);
    if (!map.success)
      ctx.addIssue({
        code: "custom",
        path: ["OIDC_ROLE_MAP", ...map.error.issues[0]!.path.map(String)],
        message: `${map.error.issues[0]!.message} (roles: ${CONSOLE_ROLES.join(", ")})`,
      });
  }
});
export type ConsoleConfig = z.infer<typeof ConsoleConfig>;

/** OIDC_ROLE_MAP, parsed (the config's check has passed). */
export function roleMapOf(config: ConsoleConfig): z.infer<typeof RoleMap> {
  return config.OIDC_ROLE_MAP ? RoleMap.parse(JSON.parse(config.OIDC_ROLE_MAP)) : {};
}

/** CONSOLE_PUBLIC_URL, else the loopback address of HTTP_PORT; without a trailing slash. */
export function publicUrlOf(config: ConsoleConfig, boundPort?: number): URL {
  return new URL(config.CONSOLE_PUBLIC_URL ?? `http://127.0.0.1:${boundPort ?? config.HTTP_PORT}`);
}

/** Whether a host name is the machine itself (an http:// address is then safe enough). */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
