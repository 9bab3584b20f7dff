/**
 * Local accounts: for the demo, and for a plant without an identity provider. CONSOLE_ACCOUNTS_FILE
 * lists each account with the scrypt hash of its password (the file holds no password) and its roles:
 *
 * ```json
 * { "accounts": [ { "name": "alice", "password": "scrypt:<salt>:<hash>", "roles": ["operator"] } ] }
 * ```
 *
 * `threadline console account <name> --roles operator,quality` prints an entry (asking the password).
 * Every role implies `viewer` (roles.ts).
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { z } from "zod";
import { ConsoleError, ConsoleErrorCode } from "./errors.js";
import { CONSOLE_ROLES, type Identity, withViewer } from "./roles.js";

const scryptAsync = promisify(scrypt) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;
const KEY_LENGTH = 32;
const CHECKS_AT_ONCE = 4;
const CHECKS_WAITING = 64;
const HASH = /^scrypt:([A-Za-z0-9+/=]{16,}):([A-Za-z0-9+/=]{40,})$/;

const AccountsFile = z.strictObject({
  accounts: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(/^[A-Za-z0-9@._-]{1,64}$/, "must be 1-64 of letters, digits, '@', '.', '_', '-'"),
        password: z
          .string()
          .regex(HASH, "must be scrypt:<salt>:<hash> (threadline console account)")
          .refine(
            (v) => Buffer.from(HASH.exec(v)?.[2] ?? "", "base64").length === KEY_LENGTH,
            `must hold a ${KEY_LENGTH}-byte hash (threadline console account makes one)`,
          ),
        roles: z.array(z.enum(CONSOLE_ROLES)).min(1),
      }),
    )
    .min(1),
});

/** The file's form of a password: `scrypt:<salt>:<hash>`, base64. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, KEY_LENGTH);
  return `scrypt:${salt.toString("base64")}:${hash.toString("base64")}`;
}

interface Account {
  readonly salt: Buffer;
  readonly hash: Buffer;
  readonly identity: Identity;
}

export class LocalAccounts {
  readonly #accounts: Map<string, Account>;
  /** A hash to compare against when the name is unknown, so that the answer takes as long. */
  readonly #decoy = { salt: randomBytes(16), hash: randomBytes(KEY_LENGTH) };

  constructor(
    accounts: readonly { name: string; password: string; roles: readonly Identity["roles"][number][] }[],
  ) {
    this.#accounts = new Map(
      accounts.map((a) => {
        const [, salt, hash] = HASH.exec(a.password)!;
        return [
          a.name,
          {
            salt: Buffer.from(salt!, "base64"),
            hash: Buffer.from(hash!, "base64"),
            identity: { name: a.name, subject: `local:${a.name}`, roles: withViewer(a.roles), via: "local" },
          },
        ];
      }),
    );
  }

  /** Reads CONSOLE_ACCOUNTS_FILE; CONSOLE_ACCOUNTS_INVALID naming the entry that is wrong. */
  static load(path: string): LocalAccounts {
    let document: unknown;
    try {
      document = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new ConsoleError(
        ConsoleErrorCode.AccountsInvalid,
        `CONSOLE_ACCOUNTS_FILE ${path} cannot be read as JSON: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const parsed = AccountsFile.safeParse(document);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConsoleError(
        ConsoleErrorCode.AccountsInvalid,
        `CONSOLE_ACCOUNTS_FILE ${path}: ${issue?.path.join(".") || "(the document)"} ${issue?.message ?? "is invalid"}`,
      );
    }
    const names = new Set<string>();
    for (const a of parsed.data.accounts) {
      if (names.has(a.name))
        throw new ConsoleError(
          ConsoleErrorCode.AccountsInvalid,
          `CONSOLE_ACCOUNTS_FILE ${path}: account ${a.name} is listed twice`,
        );
      names.add(a.name);
    }
    return new LocalAccounts(parsed.data.accounts);
  }

  /** Password checks running, and waiting: scrypt takes 16 MiB and tens of ms of the shared thread pool. */
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  /**
   * The identity of a name and password; undefined when either is wrong (the same time either way). At
   * most {@link CHECKS_AT_ONCE} checks run at once and {@link CHECKS_WAITING} wait; beyond, the sign-in
   * is refused with CONSOLE_TOO_MANY_REQUESTS rather than starving the process.
   */
  async verify(name: string, password: string): Promise<Identity | undefined> {
    if (this.#running >= CHECKS_AT_ONCE) {
      if (this.#waiting.length >= CHECKS_WAITING)
        throw new ConsoleError(
          ConsoleErrorCode.TooMany,
          "too many sign-ins at once: try again in a few seconds",
        );
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await this.#check(name, password);
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  async #check(name: string, password: string): Promise<Identity | undefined> {
    const account = this.#accounts.get(name);
    const { salt, hash } = account ?? this.#decoy;
    const given = await scryptAsync(password, salt, KEY_LENGTH);
    return timingSafeEqual(given, hash) && account ? account.identity : undefined;
  }
}
