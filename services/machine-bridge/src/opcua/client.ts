/**
 * An OPC UA client and session as the bridge opens them — security mode and policy, UserName
 * identity or anonymous, the configurable PKI folder — shared by the running bridge, `bridge
 * --check --live` and `bridge discover`, so all three reach a server the same way.
 */
import { format } from "node:util";
import {
  type ClientSession,
  MessageSecurityMode,
  type OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  setErrorLogger,
  setWarningLogger,
  UserTokenType,
} from "node-opcua";

/**
 * Sends node-opcua's own warnings and errors (console output by default) to `sink`: a command's
 * stdout stays its output (a skeleton, a table), a service's log stays JSON. Process-wide.
 * Node 20's fix of CVE-2023-46809 breaks RSA PKCS#1 v1.5 decryption, which only Basic128Rsa15
 * uses and the bridge never offers: node-opcua's import-time warning about it is dropped.
 */
export function routeNodeOpcuaLogs(sink: (level: "warn" | "error", line: string) => void): void {
  const route =
    (level: "warn" | "error") =>
    (_context: unknown, ...args: unknown[]) => {
      const line = format(...args);
      if (/NODE-OPCUA-W27|CVE-2023-46809/.test(line)) return;
      sink(level, `node-opcua: ${line}`);
    };
  setWarningLogger(route("warn"));
  setErrorLogger(route("error"));
}

export interface ClientSettings {
  readonly id: string;
  readonly url: string;
  readonly security: { readonly mode: "None" | "Sign" | "SignAndEncrypt"; readonly policy: string };
  readonly user?: { readonly username: string } | undefined;
  readonly sessionTimeoutMs: number;
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number };
}

/** A client that tries once (the caller retries, or gives up), with the endpoint's security. */
export function createClient(
  settings: ClientSettings,
  certificateManager: OPCUACertificateManager,
): OPCUAClient {
  return OPCUAClient.create({
    applicationName: "threadline-machine-bridge",
    clientName: `threadline-${settings.id}`,
    endpointMustExist: false,
    securityMode: MessageSecurityMode[settings.security.mode],
    securityPolicy: SecurityPolicy[settings.security.policy as keyof typeof SecurityPolicy],
    clientCertificateManager: certificateManager,
    requestedSessionTimeout: settings.sessionTimeoutMs,
    connectionStrategy: {
      maxRetry: 0,
      initialDelay: settings.reconnect.initialDelayMs,
      maxDelay: settings.reconnect.maxDelayMs,
      randomisationFactor: 0.2,
    },
    keepSessionAlive: false,
  });
}

/** The session's identity: UserName with the password given, else anonymous. */
export function identityOf(settings: Pick<ClientSettings, "user">, password: string | undefined) {
  if (!settings.user) return { type: UserTokenType.Anonymous } as const;
  return {
    type: UserTokenType.UserName,
    userName: settings.user.username,
    password: password ?? "",
  } as const;
}

/**
 * Connects, opens a session, runs `work`, and closes everything whatever happens: for one-shot
 * commands (`--check --live`, `discover`).
 */
export async function withSession<T>(
  settings: ClientSettings,
  certificateManager: OPCUACertificateManager,
  password: string | undefined,
  work: (session: ClientSession) => Promise<T>,
): Promise<T> {
  const client = createClient(settings, certificateManager);
  await client.connect(settings.url);
  try {
    const session = await client.createSession(identityOf(settings, password));
    try {
      return await work(session);
    } finally {
      await session.close(true).catch(() => undefined);
    }
  } finally {
    await client.disconnect().catch(() => undefined);
  }
}

/** A short, log- and event-friendly reason: the OPC UA status name when there is one. */
export function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const status = /\b(Bad[A-Za-z]+)\b/.exec(message)?.[1];
  const text = status ?? message.split("\n")[0] ?? "error";
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
