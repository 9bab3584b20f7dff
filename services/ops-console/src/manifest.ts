/**
 * What the ops console declares about itself (streams/src/manifest.ts): the bucket its sessions live
 * in, its HTTP routes, and that it acts for ops on NATS — it reads the streams, works the dead letters
 * and writes the audit trail with the ops user's grants, and nothing else. It consumes no durable and
 * publishes no event. `threadline streams plan|apply|k8s|permissions` read it.
 */
import { serviceManifest } from "../../../streams/src/index.js";
import { SESSIONS_BUCKET } from "./sessions.js";

export const CONSOLE_ROUTES = [
  { method: "GET", path: "/", auth: "none", description: "the console's page (signs in first)" },
  { method: "GET", path: "/assets/:name", auth: "none", description: "the page's script and stylesheet" },
  {
    method: "GET",
    path: "/auth/methods",
    auth: "none",
    description: "how one may sign in: local accounts, OIDC",
  },
  {
    method: "POST",
    path: "/auth/local",
    auth: "none",
    description: "sign in with a local account (throttled)",
  },
  { method: "GET", path: "/auth/oidc", auth: "none", description: "sign in through the OpenID provider" },
  { method: "GET", path: "/auth/callback", auth: "none", description: "the OpenID provider's redirect back" },
  { method: "POST", path: "/auth/logout", auth: "session", description: "sign out (CSRF token)" },
  { method: "GET", path: "/api/session", auth: "session", description: "who is signed in, the CSRF token" },
  {
    method: "GET",
    path: "/api/plants",
    auth: "session",
    description: "plant connectors and machines (viewer)",
  },
  {
    method: "GET",
    path: "/api/odoo-connector",
    auth: "session",
    description: "the Odoo connector's breaker, sync age, backlog and drift, from its metrics (viewer)",
  },
  {
    method: "GET",
    path: "/api/orders",
    auth: "session",
    description: "production orders, stuck ones first (viewer)",
  },
  { method: "GET", path: "/api/orders/:ref", auth: "session", description: "an order's timeline (viewer)" },
  {
    method: "GET",
    path: "/api/dead-letters",
    auth: "session",
    description: "dead letters, filtered (viewer)",
  },
  {
    method: "GET",
    path: "/api/dead-letters/:seq",
    auth: "session",
    description: "one dead letter, decoded (viewer)",
  },
  {
    method: "POST",
    path: "/api/dead-letters/redrive",
    auth: "session",
    description: "redrive dead letters, or preview it (operator, CSRF token, audited)",
  },
  {
    method: "POST",
    path: "/api/dead-letters/purge",
    auth: "session",
    description: "purge dead letters, or preview it (operator, CSRF token, audited)",
  },
  { method: "GET", path: "/api/audit", auth: "session", description: "the ops audit trail (viewer)" },
  {
    method: "GET",
    path: "/api/health",
    auth: "session",
    description:
      "business health over a window: dead letters, posting lag, missed holds, unposted, backlog (viewer)",
  },
  {
    method: "GET",
    path: "/api/replays/targets",
    auth: "session",
    description: "durables with a replay channel",
  },
  {
    method: "GET",
    path: "/api/replays",
    auth: "session",
    description: "this replica's replay jobs (viewer)",
  },
  {
    method: "GET",
    path: "/api/replays/:job",
    auth: "session",
    description: "a replay job's progress (viewer)",
  },
  {
    method: "POST",
    path: "/api/replays",
    auth: "session",
    description: "preview (dry run) or start a replay to a durable (operator, CSRF token, audited)",
  },
  {
    method: "POST",
    path: "/api/replays/:job/stop",
    auth: "session",
    description: "stop a replay job; its position is kept (operator, CSRF token, audited)",
  },
  {
    method: "GET",
    path: "/api/live",
    auth: "session",
    description: "server-sent events: what the streams store",
  },
  {
    method: "GET",
    path: "/api/quality/holds",
    auth: "session",
    description: "quality holds with their evidence, from the quality service (viewer)",
  },
  {
    method: "GET",
    path: "/api/quality/holds/:holdId",
    auth: "session",
    description: "one quality hold with its evidence (viewer)",
  },
  {
    method: "POST",
    path: "/api/quality/holds/:holdId/decision",
    auth: "session",
    description: "release a hold, or reject it for scrap, rework or return (quality, CSRF token, audited)",
  },
  {
    method: "GET",
    path: "/api/quality/shipments",
    auth: "session",
    description: "the deliveries the shipment gate watches: blocked, cleared (viewer)",
  },
  {
    method: "GET",
    path: "/api/quality/characteristics",
    auth: "session",
    description: "the charted characteristics, their limits and open SPC episodes (viewer)",
  },
  {
    method: "GET",
    path: "/api/quality/charts/:characteristic",
    auth: "session",
    description: "a characteristic's control chart: limits, points from the streams, violations (viewer)",
  },
  {
    method: "GET",
    path: "/api/genealogy/lots/:lot/trace",
    auth: "session",
    description: "a lot's trace, backward or forward, level by level, from the genealogy builder (viewer)",
  },
  {
    method: "GET",
    path: "/api/genealogy/lots/:lot/recall",
    auth: "session",
    description: "a lot's recall report: customers to call, lots to block (viewer)",
  },
] as const;

export const opsConsoleManifest = serviceManifest({
  service: "ops-console",
  deployment: {
    entry: "dist/services/ops-console/src/main.js",
    port: 9490,
    // Stateless but for the sessions, which live in the bucket: any replica serves any user.
    singleton: false,
    replicas: 2,
    secrets: [
      "OIDC_CLIENT_SECRET",
      "QUALITY_API_TOKEN",
      "GENEALOGY_API_TOKEN",
      "ODOO_CONNECTOR_METRICS_TOKEN",
      "METRICS_TOKEN",
    ],
    settings: {
      QUALITY_URL: "http://quality-service:9480",
      GENEALOGY_URL: "http://genealogy-builder:9470",
      ODOO_CONNECTOR_URL: "http://odoo-connector:9464",
      // ingress-nginx in front: the throttle keys on the address it saw
      CONSOLE_PROXY_HOPS: "1",
    },
    egress: [
      { to: "quality-service", port: 9480 },
      { to: "genealogy-builder", port: 9470 },
      { to: "odoo-connector", port: 9464 },
      // the OpenID provider (discovery, keys, token, userinfo)
      { to: "*", port: 443 },
    ],
    ingressPaths: ["/"],
    resources: { cpu: "250m", memory: "256Mi" },
  },
  description:
    "the web console for ops, quality and planners: plants, orders, dead letters, quality holds, SPC charts, lot genealogy, audit",
  kv: {
    [SESSIONS_BUCKET]: {
      description: "ops-console: signed-in sessions (by token digest) and pending OIDC sign-ins",
      history: 1,
      // The longest session CONSOLE_SESSION_TTL_MS allows; each session also carries its own end.
      ttl: "7d",
      // Bounded (about 10 000 sessions and pending sign-ins): a flood of started sign-ins fails them,
      // it never fills the shared JetStream store.
      maxBytes: 8 * 1024 * 1024,
      maxValueSize: 16 * 1024,
      storage: "file",
    },
  },
  http: CONSOLE_ROUTES.map((r) => ({ ...r })),
  access: { ops: true },
});
