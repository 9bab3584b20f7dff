/**
 * Who may do what in the console. Three roles, each granted by the identity provider's claims (OIDC) or
 * by the local accounts file:
 *
 * | role | may |
 * |---|---|
 * | `viewer` | see everything: plants, orders, dead letters, replays, genealogy, quality, health |
 * | `operator` | act on the streams: redrive and purge dead letters, start and stop replays |
 * | `quality` | decide quality holds (release, scrap, rework, return) |
 *
 * Every role implies `viewer`. The server checks the role of every action ({@link may}); the page only
 * hides what the user cannot do.
 */
export const CONSOLE_ROLES = ["viewer", "operator", "quality"] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/** What a signed-in user is, wherever the sign-in came from. */
export interface Identity {
  /** Shown in the page and written to the audit trail: `alice` (local) or the OIDC `preferred_username`. */
  readonly name: string;
  /** A stable id: `local:alice`, `oidc:<issuer>#<sub>`. */
  readonly subject: string;
  readonly roles: readonly ConsoleRole[];
  readonly via: "local" | "oidc";
}

/** The actions the console performs, each with the role it needs. */
export const ACTION_ROLE = {
  view: "viewer",
  redrive: "operator",
  purge: "operator",
  replay: "operator",
  decideHold: "quality",
} as const satisfies Record<string, ConsoleRole>;
export type ConsoleAction = keyof typeof ACTION_ROLE;

/** The roles with `viewer` added and duplicates removed, in {@link CONSOLE_ROLES} order. */
export function withViewer(roles: Iterable<ConsoleRole>): ConsoleRole[] {
  const set = new Set<ConsoleRole>(["viewer", ...roles]);
  return CONSOLE_ROLES.filter((r) => set.has(r));
}

/** Whether the identity may perform the action. */
export function may(identity: Pick<Identity, "roles">, action: ConsoleAction): boolean {
  return identity.roles.includes(ACTION_ROLE[action]);
}

/**
 * The console roles granted by the values of a claim (e.g. `groups: ["plant-ops", "qa"]`), through the
 * map the operator configured (`{ "plant-ops": ["operator"], "qa": ["quality"] }`). A value the map does
 * not name grants nothing; no role at all means the user may not sign in (the caller refuses).
 */
export function rolesFromClaim(
  claim: unknown,
  map: Readonly<Record<string, readonly ConsoleRole[]>>,
): ConsoleRole[] {
  const values = Array.isArray(claim)
    ? claim.filter((v): v is string => typeof v === "string")
    : typeof claim === "string"
      ? claim.split(/[\s,]+/).filter(Boolean)
      : [];
  const granted = new Set<ConsoleRole>();
  // Own keys only: a group named `constructor` or `__proto__` grants nothing (and breaks nothing).
  for (const v of values) if (Object.hasOwn(map, v)) for (const r of map[v] ?? []) granted.add(r);
  return granted.size === 0 ? [] : withViewer(granted);
}
