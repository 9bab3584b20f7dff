/**
 * Sessions, kept in the KV bucket THREADLINE_CONSOLE_SESSIONS so that every replica of the console
 * knows them and a restart signs nobody out. The browser holds a random token (an httpOnly cookie);
 * the bucket holds only its SHA-256, so reading the bucket gives no session away. Each session carries
 * its CSRF token: a state-changing request must send it back in a header.
 *
 * A pending OpenID Connect sign-in (its PKCE verifier, state and nonce) is kept the same way between
 * the redirect to the provider and the callback, and can be taken once.
 */
import { createHash, randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { Identity } from "./roles.js";

/** Sessions and pending sign-ins; the bucket's max age bounds the longest session. */
export const SESSIONS_BUCKET = "THREADLINE_CONSOLE_SESSIONS";

export interface Session {
  readonly identity: Identity;
  /** Sent back by the page in `x-csrf-token` on every action. */
  readonly csrf: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

const newToken = () => randomBytes(32).toString("base64url");
const digest = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

export class SessionStore {
  constructor(
    private readonly kv: KV,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Opens a session; the token goes to the browser, never to a log. */
  async open(identity: Identity): Promise<{ token: string; session: Session }> {
    const token = newToken();
    const createdAt = this.now();
    const session: Session = { identity, csrf: newToken(), createdAt, expiresAt: createdAt + this.ttlMs };
    await this.kv.put(`session.${digest(token)}`, json(session));
    return { token, session };
  }

  /** The live session of a token; undefined when unknown, signed out or expired. */
  async read(token: string | undefined): Promise<Session | undefined> {
    if (!token || token.length > 100) return undefined;
    const entry = await this.kv.get(`session.${digest(token)}`);
    if (entry?.operation !== "PUT") return undefined;
    const session = entry.json<Session>();
    return session.expiresAt > this.now() ? session : undefined;
  }

  /** Signs a session out (every replica sees it at once: the next read finds nothing). */
  async close(token: string | undefined): Promise<void> {
    if (token && token.length <= 100) await this.kv.delete(`session.${digest(token)}`);
  }

  /** Keeps what a sign-in must find again at its callback; the token goes in a short-lived cookie. */
  async putPending(value: unknown): Promise<string> {
    const token = newToken();
    await this.kv.put(`signin.${digest(token)}`, json(value));
    return token;
  }

  /**
   * What {@link putPending} kept, once: the entry is deleted on the revision read, so a callback
   * replayed (or raced) finds nothing the second time.
   */
  async takePending<T>(token: string | undefined): Promise<T | undefined> {
    if (!token || token.length > 100) return undefined;
    const key = `signin.${digest(token)}`;
    const entry = await this.kv.get(key);
    if (entry?.operation !== "PUT") return undefined;
    try {
      await this.kv.delete(key, { previousSeq: entry.revision });
    } catch {
      return undefined; // taken by another request meanwhile
    }
    return entry.json<T>();
  }
}
