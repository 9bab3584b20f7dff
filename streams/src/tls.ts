/**
 * TLS to NATS with a client certificate (mutual TLS): the files NATS_TLS_CA, NATS_TLS_CERT and
 * NATS_TLS_KEY name, checked before anything connects — readable, PEM, the key the certificate's, the
 * certificate not expired — and watched afterwards: when cert-manager (or anyone) rotates them, the
 * connection is re-established with the new pair, without a restart. nats.js reads the files again on
 * every (re)connect; the watcher only forces that reconnect once a complete, matching new pair is there
 * (a half-written rotation is waited out, the old connection kept).
 */
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { NatsConnection } from "@nats-io/nats-core";
import { ConfigError } from "./errors.js";
import type { Logger } from "./logger.js";

/** The files of a TLS client identity; `ca` alone verifies the server without a client certificate. */
export interface TlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** What the files hold, once checked. */
export interface TlsIdentity {
  /** The client certificate's subject and SHA-256 fingerprint, and when it expires; null without one. */
  readonly certificate: {
    readonly subject: string;
    readonly fingerprint: string;
    readonly notAfter: Date;
  } | null;
  /** A digest of every file's bytes: a change of any is a rotation. */
  readonly digest: string;
}

const VARIABLE = { ca: "NATS_TLS_CA", cert: "NATS_TLS_CERT", key: "NATS_TLS_KEY" } as const;

function read(files: TlsFiles, which: keyof TlsFiles): Buffer | undefined {
  const path = files[which];
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(VARIABLE[which], `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** Reads and checks the files; ConfigError naming the variable whose file is wrong. */
export function checkTlsFiles(files: TlsFiles, now = new Date()): TlsIdentity {
  if (Boolean(files.cert) !== Boolean(files.key))
    throw new ConfigError(
      files.cert ? "NATS_TLS_KEY" : "NATS_TLS_CERT",
      "is required with the other: a client certificate and its key come together",
    );
  const ca = read(files, "ca");
  const cert = read(files, "cert");
  const key = read(files, "key");
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (cause) {
      throw new ConfigError(
        "NATS_TLS_CA",
        `${files.ca} is not a PEM certificate: ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  let certificate: TlsIdentity["certificate"] = null;
  if (cert && key) {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (cause) {
      throw new ConfigError(
        "NATS_TLS_CERT",
        `${files.cert} is not a PEM certificate: ${(cause as Error).message}`,
        { cause },
      );
    }
    let privateKey: ReturnType<typeof createPrivateKey>;
    try {
      privateKey = createPrivateKey(key);
    } catch (cause) {
      throw new ConfigError(
        "NATS_TLS_KEY",
        `${files.key} is not a PEM private key: ${(cause as Error).message}`,
        { cause },
      );
    }
    if (!x509.checkPrivateKey(privateKey))
      throw new ConfigError(
        "NATS_TLS_KEY",
        `${files.key} is not the key of the certificate ${files.cert} (${x509.subject})`,
      );
    const notAfter = new Date(x509.validTo);
    if (notAfter.getTime() <= now.getTime())
      throw new ConfigError(
        "NATS_TLS_CERT",
        `${files.cert} (${x509.subject}) expired at ${notAfter.toISOString()}`,
      );
    certificate = { subject: x509.subject.replace(/\n/g, ", "), fingerprint: x509.fingerprint256, notAfter };
  }
  const digest = createHash("sha256");
  for (const b of [ca, cert, key]) digest.update(b ?? Buffer.alloc(0)).update("\0");
  return { certificate, digest: digest.digest("hex") };
}

export interface TlsWatchOptions {
  /** How often the files are looked at (a Kubernetes Secret volume changes within about a minute). @default 10000 */
  readonly intervalMs?: number;
  readonly logger: Logger;
}

/**
 * Watches the files of the connection's identity; when they hold a new, valid pair, reconnects so the
 * new certificate is presented. Returns the function that stops watching.
 */
export function watchTlsFiles(nc: NatsConnection, files: TlsFiles, options: TlsWatchOptions): () => void {
  const paths = [files.ca, files.cert, files.key].filter((p): p is string => Boolean(p));
  let current: string;
  try {
    current = checkTlsFiles(files).digest;
  } catch {
    current = "";
  }
  let timer: NodeJS.Timeout | undefined;
  let reconnecting = false;
  const examine = () => {
    timer = undefined;
    let identity: TlsIdentity;
    try {
      identity = checkTlsFiles(files);
    } catch (err) {
      // Mid-rotation (the certificate written, not yet its key) or a bad file: keep the connection.
      options.logger.warn(
        { err: (err as Error).message },
        "NATS TLS files changed but are not usable yet: keeping the current connection",
      );
      return;
    }
    if (identity.digest === current || reconnecting || nc.isClosed()) return;
    current = identity.digest;
    reconnecting = true;
    options.logger.info(
      {
        subject: identity.certificate?.subject,
        fingerprint: identity.certificate?.fingerprint,
        notAfter: identity.certificate?.notAfter,
      },
      "NATS TLS files rotated: reconnecting with them",
    );
    nc.reconnect()
      .catch((err: unknown) =>
        options.logger.warn({ err }, "NATS reconnect after the TLS rotation failed; nats.js keeps trying"),
      )
      .finally(() => {
        reconnecting = false;
      });
  };
  const changed = () => {
    // Files of one rotation change within moments of each other: look once they settle.
    if (timer) clearTimeout(timer);
    timer = setTimeout(examine, 250);
    timer.unref();
  };
  const interval = options.intervalMs ?? 10_000;
  for (const p of paths) watchFile(p, { interval, persistent: false }, changed);
  return () => {
    if (timer) clearTimeout(timer);
    for (const p of paths) unwatchFile(p, changed);
  };
}
