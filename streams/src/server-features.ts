/**
 * What the connected nats-server can do, in one table. Threadline runs on the current release
 * (2.12 and newer in production) and keeps 2.9 as its floor: where a feature arrived later, plan,
 * apply and the SDK ask this table — never a version comparison of their own — and fall back on the
 * floor's way when the server lacks it.
 */
import type { NatsConnection } from "@nats-io/nats-core";

/** A nats-server version, `major.minor.patch` (a pre-release suffix such as `-RC.1` is ignored). */
export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly text: string;
}

/** `"2.9.10"` -> { major: 2, minor: 9, patch: 10 }; throws on text that is not a version. */
export function parseServerVersion(text: string): ServerVersion {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!m) throw new Error(`cannot read a nats-server version from ${JSON.stringify(text)}`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: text.trim() };
}

/** True when `version` is `min` or newer. */
export function atLeast(version: ServerVersion, min: string): boolean {
  const v = parseServerVersion(min);
  if (version.major !== v.major) return version.major > v.major;
  if (version.minor !== v.minor) return version.minor > v.minor;
  return version.patch >= v.patch;
}

/**
 * The oldest release the production manifests assume (deploy/: the hub's NATS cluster): what
 * `threadline streams k8s` renders for unless told otherwise. `streams plan` asks the live server.
 */
export const PRODUCTION_SERVER_VERSION = "2.12.0";

/** The oldest server Threadline supports (consumer filter subjects are updatable in place from 2.9.0). */
export const MIN_SERVER_VERSION = "2.9.0";

/**
 * Server features newer than the 2.9 floor: the version each needs, and what Threadline does
 * without it. `declaration` marks the ones a declaration can ask for (plan refuses them on an older
 * server, naming the key); the others are used by the SDK or plan when present.
 */
export const SERVER_FEATURES = {
  multipleFilterSubjects: {
    label: "multiple consumer filter subjects (filter_subjects)",
    since: "2.10.0",
    declaration: true,
    without: "a declaration with several filter subjects fails the plan",
  },
  streamMetadata: {
    label: "stream metadata",
    since: "2.10.0",
    declaration: true,
    without: "plan refuses it",
  },
  consumerMetadata: {
    label: "consumer metadata",
    since: "2.10.0",
    declaration: true,
    without: "plan refuses it",
  },
  subjectTransform: {
    label: "stream subject transform (subject_transform)",
    since: "2.10.0",
    declaration: true,
    without: "plan refuses it",
  },
  compression: {
    label: "stream compression",
    since: "2.10.0",
    declaration: true,
    without: "plan refuses it",
  },
  consumerPause: {
    label: "consumer pause (pause_until)",
    since: "2.11.0",
    declaration: true,
    without: "plan refuses it",
  },
  priorityGroups: {
    label: "consumer priority groups",
    since: "2.11.0",
    declaration: true,
    without: "plan refuses it",
  },
  msgTtl: {
    label: "per-message TTL (allow_msg_ttl)",
    since: "2.11.0",
    declaration: true,
    without: "plan refuses it",
  },
  retentionUpdate: {
    label: "changing a stream's retention in place (not to or from workqueue)",
    since: "2.10.0",
    declaration: false,
    without: "plan recreates the stream (a destructive change)",
  },
  termReason: {
    label: 'a reason on a terminated message ("+TERM <reason>", in the server\'s advisory)',
    since: "2.10.4",
    declaration: false,
    without:
      "plain +TERM (older servers redeliver a +TERM with a reason); the reason stays in the dead letter",
  },
  consumerPauseApi: {
    label: "pausing a durable on the server ($JS.API.CONSUMER.PAUSE)",
    since: "2.11.0",
    declaration: false,
    without:
      "a pause policy pauses the service's own pulls only; `nats consumer info` shows the durable active",
  },
  consumerReset: {
    label: "resetting a durable to its ack floor ($JS.API.CONSUMER.RESET, ADR-60)",
    since: "2.14.0",
    declaration: false,
    without:
      "a new owner of a partition waits out the ack wait of deliveries the previous owner never received (sent as its consume stopped) before it pulls",
  },
} as const;
export type ServerFeature = keyof typeof SERVER_FEATURES;

/** Whether a server of `version` (text or parsed) has `feature`. */
export function serverHas(version: ServerVersion | string, feature: ServerFeature): boolean {
  const v = typeof version === "string" ? parseServerVersion(version) : version;
  return atLeast(v, SERVER_FEATURES[feature].since);
}

/** Whether the server `nc` is connected to has `feature` (false before the first INFO). */
export function connectedServerHas(nc: NatsConnection, feature: ServerFeature): boolean {
  const version = nc.info?.version;
  return version !== undefined && serverHas(version, feature);
}
