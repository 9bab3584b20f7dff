/**
 * How every Threadline process connects to NATS: options from the environment (or flags),
 * validated with zod so a wrong value is named before anything connects. Secrets are never logged.
 */
import { readFileSync } from "node:fs";
import { type ConnectionOptions, credsAuthenticator, errors, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";
import { ThreadlineError } from "../../contracts/src/index.js";
import { ConfigError } from "./errors.js";
import { checkTlsFiles, type TlsFiles } from "./tls.js";

const natsUrl = z
  .string()
  .trim()
  .min(1)
  .refine((s) => s.split(",").every((u) => /^(nats|tls|ws|wss):\/\/[^\s/]+$|^[^\s:/]+:\d+$/.test(u.trim())), {
    message: "must be nats://host:port (comma-separated for several servers)",
  });

/** The connection settings, as the environment spells them. */
export const NatsEnvSchema = z.object({
  NATS_URL: natsUrl.optional(),
  /** Path to a .creds file (JWT + NKey seed) for decentralised auth. */
  NATS_CREDS: z.string().min(1).optional(),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_TOKEN: z.string().min(1).optional(),
  /** Client name shown in the server's monitoring (connz). */
  NATS_NAME: z.string().min(1).optional(),
  /**
   * Prefix of this client's reply subjects (`<prefix>.<nuid>…`) instead of `_INBOX`, so that a
   * least-privilege user may subscribe to `<prefix>.>` only (see docs/security.md). One token.
   */
  NATS_INBOX_PREFIX: z
    .string()
    .regex(
      /^[^\s.*>]+$/,
      "must be one subject token: no '.', '*', '>' or whitespace, e.g. _INBOX_order-progress",
    )
    .optional(),
  /** CA bundle (PEM) the server's certificate must chain to; without it, the system's CAs. */
  NATS_TLS_CA: z.string().min(1).optional(),
  /** Client certificate (PEM) for mutual TLS; with NATS_TLS_KEY. */
  NATS_TLS_CERT: z.string().min(1).optional(),
  /** The client certificate's private key (PEM); never logged. */
  NATS_TLS_KEY: z.string().min(1).optional(),
  /** How long the first connection (handshake, TLS, INFO) may take, in ms. @default 20000 */
  NATS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).optional(),
  /** How often the TLS files are checked for a rotation, in ms. @default 10000 */
  NATS_TLS_WATCH_MS: z.coerce.number().int().min(100).max(3_600_000).optional(),
});

export interface NatsSettings {
  /** @default "nats://127.0.0.1:4222" */
  servers: string[];
  creds?: string;
  user?: string;
  password?: string;
  token?: string;
  /** @default "threadline" */
  name: string;
  /** Reply subjects start with this token instead of `_INBOX`. @default nats.js's `_INBOX` */
  inboxPrefix?: string;
  /** TLS files (tls.ts): a CA, and a client certificate with its key for mutual TLS. @default none */
  tls?: TlsFiles;
  /** How often a service checks the TLS files for a rotation. @default 10000 */
  tlsWatchMs?: number;
  /** How long the first connection may take. @default nats.js's 20000 */
  connectTimeoutMs?: number;
}

/** Parses connection settings from an env-like record; throws ConfigError naming the variable. */
export function natsSettingsFromEnv(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<NatsSettings> = {},
): NatsSettings {
  const parsed = NatsEnvSchema.safeParse(
    Object.fromEntries(Object.keys(NatsEnvSchema.shape).map((k) => [k, env[k] === "" ? undefined : env[k]])),
  );
  if (!parsed.success) throw ConfigError.fromZod(parsed.error, "environment");
  const e = parsed.data;
  if (e.NATS_USER && !e.NATS_PASSWORD)
    throw new ConfigError("NATS_PASSWORD", "is required when NATS_USER is set");
  const settings: NatsSettings = {
    servers: (e.NATS_URL ?? "nats://127.0.0.1:4222").split(",").map((s) => s.trim()),
    name: e.NATS_NAME ?? "threadline",
  };
  // One scheme for all: TLS is a property of the connection (nats.js takes one `tls` option), and a
  // list where some servers are tls:// and others not would be plain text whenever it reaches those.
  const secure = settings.servers.filter(wantsTls);
  if (secure.length > 0 && secure.length < settings.servers.length)
    throw new ConfigError(
      "NATS_URL",
      `mixes tls:// and plain servers (${settings.servers.join(", ")}): use tls:// for all of them or for none`,
    );
  if (e.NATS_CREDS) settings.creds = e.NATS_CREDS;
  if (e.NATS_USER) settings.user = e.NATS_USER;
  if (e.NATS_PASSWORD) settings.password = e.NATS_PASSWORD;
  if (e.NATS_TOKEN) settings.token = e.NATS_TOKEN;
  if (e.NATS_INBOX_PREFIX) settings.inboxPrefix = e.NATS_INBOX_PREFIX;
  if (e.NATS_TLS_CERT && !e.NATS_TLS_KEY)
    throw new ConfigError("NATS_TLS_KEY", "is required when NATS_TLS_CERT is set");
  if (e.NATS_TLS_KEY && !e.NATS_TLS_CERT)
    throw new ConfigError("NATS_TLS_CERT", "is required when NATS_TLS_KEY is set");
  if (e.NATS_TLS_CA || e.NATS_TLS_CERT)
    settings.tls = {
      ...(e.NATS_TLS_CA ? { ca: e.NATS_TLS_CA } : {}),
      ...(e.NATS_TLS_CERT ? { cert: e.NATS_TLS_CERT, key: e.NATS_TLS_KEY as string } : {}),
    };
  if (e.NATS_TLS_WATCH_MS !== undefined) settings.tlsWatchMs = e.NATS_TLS_WATCH_MS;
  if (e.NATS_CONNECT_TIMEOUT_MS !== undefined) settings.connectTimeoutMs = e.NATS_CONNECT_TIMEOUT_MS;
  return { ...settings, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
}

/** A `tls://` server URL: the connection must be encrypted. */
function wantsTls(url: string): boolean {
  return /^tls:\/\//i.test(url.trim());
}

/**
 * Connection options for @nats-io/transport-node; reconnects forever, as a long-lived service should.
 *
 * nats.js ignores a URL's scheme (it keeps host and port only), so `tls://` alone would connect in plain
 * text to a server that does not offer TLS. A `tls://` URL therefore sets `tls: {}`: nats.js then
 * upgrades the connection, and refuses a server without TLS ("server does not support 'tls'").
 */
export function connectionOptions(settings: NatsSettings): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: settings.servers,
    name: settings.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // nats.js otherwise allocates two Error objects per request for async stack traces: a large share
    // of publish CPU. Our errors carry their own context (event id, subject, code).
    noAsyncTraces: true,
  };
  if (settings.creds) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(settings.creds);
    } catch (cause) {
      throw new ConfigError("NATS_CREDS", `cannot read ${settings.creds}: ${(cause as Error).message}`, {
        cause,
      });
    }
    opts.authenticator = credsAuthenticator(creds);
  }
  if (settings.servers.some(wantsTls)) opts.tls = {};
  // Files, not their bytes: nats.js reads them again on every (re)connect, so a rotation is used by
  // the next connection (tls.ts forces one when the files change).
  if (settings.tls)
    opts.tls = {
      ...(settings.tls.ca ? { caFile: settings.tls.ca } : {}),
      ...(settings.tls.cert ? { certFile: settings.tls.cert } : {}),
      ...(settings.tls.key ? { keyFile: settings.tls.key } : {}),
    };
  if (settings.connectTimeoutMs) opts.timeout = settings.connectTimeoutMs;
  if (settings.user) opts.user = settings.user;
  if (settings.password) opts.pass = settings.password;
  if (settings.token) opts.token = settings.token;
  if (settings.inboxPrefix) opts.inboxPrefix = settings.inboxPrefix;
  return opts;
}

/**
 * Connects with the given settings; the error names the servers tried (never the secrets) and tells
 * apart a server that is not there ({@link ConnectError}), one that refused the credentials
 * ({@link AuthRefusedError}) and one without the TLS a tls:// URL asks for ({@link TlsUnavailableError}).
 */
export async function connectNats(settings: NatsSettings): Promise<NatsConnection> {
  const options = connectionOptions(settings);
  if (settings.tls) checkTlsFiles(settings.tls);
  try {
    return await connect(options);
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    if (cause instanceof errors.AuthorizationError || cause instanceof errors.UserAuthenticationExpiredError)
      throw new AuthRefusedError(settings.servers, cause);
    // nats.js's checkOptions: `tls` was asked for and the server's INFO offers neither tls_required
    // nor tls_available. It has no class of its own; its message is the only mark.
    if (options.tls && /does not support 'tls'|tls.*not available/i.test((cause as Error)?.message ?? ""))
      throw new TlsUnavailableError(settings.servers, cause);
    throw new ConnectError(settings.servers, cause, settings.tls?.cert !== undefined);
  }
}

/** No NATS server answered at the configured URL(s). */
export class ConnectError extends ThreadlineError {
  constructor(
    readonly servers: string[],
    cause: unknown,
    withClientCertificate = false,
  ) {
    super(
      "NATS_UNREACHABLE",
      `cannot connect to ${servers.join(", ")}: ${(cause as Error)?.message ?? String(cause)} (check NATS_URL / --server${withClientCertificate ? "; a server that refuses the client certificate closes the connection without a word: check that NATS_TLS_CERT is signed by a CA the server trusts" : ""})`,
      { cause },
    );
  }
}

/** A NATS server answered but refused the credentials (or they expired). */
export class AuthRefusedError extends ThreadlineError {
  constructor(
    readonly servers: string[],
    cause: unknown,
  ) {
    super(
      "NATS_AUTH_REFUSED",
      `${servers.join(", ")} refused the credentials: ${(cause as Error)?.message ?? String(cause)} (check NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS)`,
      { cause },
    );
  }
}

/** NATS_URL asks for TLS (`tls://`) and the server does not offer it: refused, never downgraded. */
export class TlsUnavailableError extends ThreadlineError {
  constructor(
    readonly servers: string[],
    cause: unknown,
  ) {
    super(
      "NATS_TLS_UNAVAILABLE",
      `${servers.join(", ")} does not offer TLS, and NATS_URL asks for it (tls://): refused rather than connected in plain text`,
      { cause },
    );
  }
}
