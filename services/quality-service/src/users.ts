/**
 * Who may do what through the quality API: QUALITY_USERS_FILE lists each user (a person, or a system
 * such as a lab's LIMS) with the SHA-256 of its bearer token — the file holds no secret a reader could
 * replay — and its roles:
 *
 * | role | may |
 * |---|---|
 * | `read` | list holds, shipments, charts, the reconciliation |
 * | `inspect` | record inspections (a lab system) |
 * | `hold` | place a hold by hand |
 * | `release` | release a hold or decide its disposition (scrap, rework, return) |
 *
 * ```json
 * { "users": [ { "name": "lims-lyon", "tokenSha256": "9f86d0…", "roles": ["inspect"] },
 *              { "name": "alice", "tokenSha256": "2c26b4…", "roles": ["read", "hold", "release"] } ] }
 * ```
 *
 * `threadline quality token` makes a token and its digest. Every role but `read` implies `read`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";
import { QualityError, QualityErrorCode } from "./errors.js";

export const ROLES = ["read", "inspect", "hold", "release"] as const;
export type Role = (typeof ROLES)[number];

export interface ApiUser {
  readonly name: string;
  readonly roles: ReadonlySet<Role>;
}

const UsersFile = z.strictObject({
  users: z
    .array(
      z.strictObject({
        name: z
          .string()
          .regex(/^[A-Za-z0-9@._-]{1,64}$/, "must be 1-64 of letters, digits, '@', '.', '_', '-'"),
        tokenSha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/, "must be the token's SHA-256 as 64 lower-case hex digits"),
        roles: z.array(z.enum(ROLES)).min(1),
      }),
    )
    .min(1),
});

/** The SHA-256 of a token, as the users file holds it. */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export class ApiUsers {
  readonly #byDigest: { digest: Buffer; user: ApiUser }[];

  constructor(users: readonly { name: string; tokenSha256: string; roles: readonly Role[] }[]) {
    this.#byDigest = users.map((u) => ({
      digest: Buffer.from(u.tokenSha256, "hex"),
      user: { name: u.name, roles: new Set<Role>(["read", ...u.roles]) },
    }));
  }

  /** Reads QUALITY_USERS_FILE; QUALITY_USERS_INVALID naming the entry that is wrong. */
  static load(path: string): ApiUsers {
    let document: unknown;
    try {
      document = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new QualityError(
        QualityErrorCode.UsersInvalid,
        `QUALITY_USERS_FILE ${path} cannot be read as JSON: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const parsed = UsersFile.safeParse(document);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new QualityError(
        QualityErrorCode.UsersInvalid,
        `QUALITY_USERS_FILE ${path}: ${issue?.path.join(".") || "(the document)"} ${issue?.message ?? "is invalid"}`,
      );
    }
    const names = new Set<string>();
    for (const u of parsed.data.users) {
      if (names.has(u.name))
        throw new QualityError(
          QualityErrorCode.UsersInvalid,
          `QUALITY_USERS_FILE ${path}: user ${u.name} is listed twice`,
        );
      names.add(u.name);
    }
    return new ApiUsers(parsed.data.users);
  }

  /** The user of a bearer token; undefined when no user has it (compared in constant time). */
  authenticate(token: string): ApiUser | undefined {
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: ApiUser | undefined;
    for (const u of this.#byDigest) if (timingSafeEqual(u.digest, digest)) found = u.user;
    return found;
  }
}
