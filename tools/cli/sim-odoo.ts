/**
 * `threadline sim odoo`: runs the Odoo simulator (tools/sim/odoo) until SIGINT/SIGTERM.
 *
 *   threadline sim odoo --profile 17 [--port 8069] [--host 127.0.0.1] [--seed n]
 *                       [--webhook model:url[:on[:field,field]]] [--db threadline] [--no-quality]
 *
 * Credentials: `admin`, the integration user `threadline` (exactly Manufacturing / User) and the
 * restricted `shopfloor` user, each with a password and an API key, and the token of /__sim/faults. A
 * secret is printed once when it was generated; one set in the environment (ODOO_SIM_ADMIN_PASSWORD,
 * ODOO_SIM_API_KEY, ODOO_SIM_INTEGRATION_PASSWORD, ODOO_SIM_INTEGRATION_API_KEY,
 * ODOO_SIM_RESTRICTED_PASSWORD, ODOO_SIM_RESTRICTED_API_KEY, ODOO_SIM_ADMIN_TOKEN) is never printed,
 * only where it came from.
 * The process runs until SIGINT/SIGTERM — through its own fault windows too (a "refuse" outage closes
 * the listener; the process stays and reopens it). Exit codes: 0 after a clean stop, 1 when it
 * cannot start, 2 for a usage error (port in use).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { PROFILE_VERSIONS } from "../sim/odoo/profiles.js";
import { type OdooSimulatorOptions, startOdooSimulator } from "../sim/odoo/server.js";
import type { WebhookRule } from "../sim/odoo/webhooks.js";
import { action, EXIT, UsageError } from "./run.js";

const out = (line = "") => process.stdout.write(`${line}\n`);

const intIn = (min: number, max: number) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
  return Number(v);
};

/** `model:url[:on[:field,field]]`; the URL may itself contain colons. */
export function parseWebhookFlag(value: string): WebhookRule {
  const m =
    /^([a-z0-9_.]+):(https?:\/\/[^\s]+?)(?::(create|write|create_or_write))?(?::([a-z0-9_,]+))?$/i.exec(
      value,
    );
  if (!m)
    throw new UsageError(
      `--webhook ${value}: expected model:url[:create|write|create_or_write[:field,field]]`,
    );
  const rule: WebhookRule = {
    model: m[1] as string,
    url: m[2] as string,
    on: (m[3] as WebhookRule["on"]) ?? "create_or_write",
  };
  if (m[4]) rule.fields = m[4].split(",").filter(Boolean);
  return rule;
}

interface Flags {
  profile: string;
  host: string;
  port: number;
  seed: number;
  db: string;
  webhook: string[];
  quality: boolean;
}

export function simOdooCommand(): Command {
  return new Command("odoo")
    .description(
      "run a protocol-faithful Odoo simulator (JSON-RPC, XML-RPC, JSON-2 on 19; seeded manufacturing data; fault injection at /__sim/faults)",
    )
    .addOption(
      new Option("--profile <version>", "Odoo version to behave as")
        .choices(PROFILE_VERSIONS.map(String))
        .makeOptionMandatory(),
    )
    .addOption(new Option("--host <host>", "listen address (keep it on loopback)").default("127.0.0.1"))
    .addOption(
      new Option("--port <port>", "listen port (0 = a free one)").argParser(intIn(0, 65535)).default(8069),
    )
    .addOption(
      new Option("--seed <n>", "seed of the demo data and of fault draws")
        .argParser(intIn(0, 2 ** 31 - 1))
        .default(1),
    )
    .addOption(new Option("--db <name>", "database name").default("threadline"))
    .addOption(
      new Option(
        "--webhook <model:url>",
        "automated action sending webhooks (17+), model:url[:on[:field,field]]; repeatable",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .addOption(new Option("--no-quality", "without Enterprise quality_control (no quality.* models)"))
    .action(
      action(async (flags: Flags) => {
        const webhooks = flags.webhook.map(parseWebhookFlag);
        const profile = Number(flags.profile) as OdooSimulatorOptions["profile"];
        const fromEnv = (name: string) => process.env[name] || undefined;
        const password = fromEnv("ODOO_SIM_ADMIN_PASSWORD");
        const apiKey = fromEnv("ODOO_SIM_API_KEY");
        const integrationPassword = fromEnv("ODOO_SIM_INTEGRATION_PASSWORD");
        const integrationApiKey = fromEnv("ODOO_SIM_INTEGRATION_API_KEY");
        const restrictedPassword = fromEnv("ODOO_SIM_RESTRICTED_PASSWORD");
        const restrictedApiKey = fromEnv("ODOO_SIM_RESTRICTED_API_KEY");
        const adminToken = fromEnv("ODOO_SIM_ADMIN_TOKEN");
        const sim = await startOdooSimulator({
          profile,
          host: flags.host,
          port: flags.port,
          seed: flags.seed,
          db: flags.db,
          webhooks,
          quality: flags.quality,
          users: {
            admin: { ...(password ? { password } : {}), ...(apiKey ? { apiKey } : {}) },
            integration: {
              ...(integrationPassword ? { password: integrationPassword } : {}),
              ...(integrationApiKey ? { apiKey: integrationApiKey } : {}),
            },
            restricted: {
              ...(restrictedPassword ? { password: restrictedPassword } : {}),
              ...(restrictedApiKey ? { apiKey: restrictedApiKey } : {}),
            },
          },
          ...(adminToken ? { adminToken } : {}),
        }).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "EADDRINUSE")
            throw new UsageError(`port ${flags.port} on ${flags.host} is in use: pick another with --port`);
          throw err;
        });
        out(`Odoo ${sim.profile.serverVersion} simulator listening on ${sim.url}`);
        out(`  database  ${sim.db}`);
        out(`  login     ${sim.credentials.login} (uid ${sim.credentials.uid})`);
        // A secret the operator set is never printed: only where it came from.
        const shown = (given: string | undefined, variable: string, generated: string) =>
          given ? `from $${variable}` : generated;
        out(`  password  ${shown(password, "ODOO_SIM_ADMIN_PASSWORD", sim.credentials.password)}`);
        out(`  API key   ${shown(apiKey, "ODOO_SIM_API_KEY", sim.credentials.apiKey)}`);
        const integration = sim.users.integration;
        out(
          `  integration user ${integration.login} (uid ${integration.uid}, Manufacturing / User): password ${shown(integrationPassword, "ODOO_SIM_INTEGRATION_PASSWORD", integration.password)}, API key ${shown(integrationApiKey, "ODOO_SIM_INTEGRATION_API_KEY", integration.apiKey)}`,
        );
        out(
          `  restricted user ${sim.restricted.login} (uid ${sim.restricted.uid}): password ${shown(restrictedPassword, "ODOO_SIM_RESTRICTED_PASSWORD", sim.restricted.password)}, API key ${shown(restrictedApiKey, "ODOO_SIM_RESTRICTED_API_KEY", sim.restricted.apiKey)}`,
        );
        out(
          `  faults    ${sim.url}/__sim/faults (X-Sim-Token: ${shown(adminToken, "ODOO_SIM_ADMIN_TOKEN", sim.adminToken)})`,
        );
        out(
          `  endpoints /jsonrpc, /xmlrpc/2/{common,object,db}${sim.profile.json2 ? ", /json/2/<model>/<method>" : ""}, /web/session/authenticate, /web/dataset/call_kw`,
        );
        for (const w of webhooks) out(`  webhook   ${w.model} on ${w.on} -> ${w.url}`);
        out("Generated secrets above are shown once. Ctrl-C stops.");
        await new Promise<void>((resolve) => {
          // The listener is not what keeps the process alive: a "refuse" outage closes it.
          const alive = setInterval(() => undefined, 60_000);
          const stop = () => {
            clearInterval(alive);
            resolve();
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
        await sim.stop();
        return EXIT.ok;
      }),
    );
}
