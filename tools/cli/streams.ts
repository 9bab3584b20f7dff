/**
 * `threadline streams …`: plan, apply and k8s — the shared streams and buckets declared in
 * streams/src/declarations.ts and each service's durables and buckets from its manifest
 * (services/<name>/src/manifest.ts, gathered by tools/manifests.ts), against a live server or as NACK
 * resources — and `permissions`, the
 * least-privilege NATS user of a service (streams/src/permissions.ts, docs/security.md).
 *
 * Exit codes: `plan` 0 when `apply` would go through without --force (changes may be pending), 1 when
 * destructive changes are pending or the plan failed (server too old for a declared feature, replicas
 * the server cannot hold, unreachable); `apply` 0 when the server now matches, 1 when refused (nothing
 * changed) or failed; 2 for a usage error.
 */

import { readFileSync } from "node:fs";
import { jetstreamManager } from "@nats-io/jetstream";
import { Command, InvalidArgumentError, Option } from "commander";
import { parse as parseYaml } from "yaml";
import {
  ANALYST_USER,
  accountsOf,
  applyPlan,
  type Declarations,
  destructiveItems,
  explainAnalystPermissions,
  explainOpsPermissions,
  explainPermissions,
  formatPlan,
  manifestAccess,
  OPS_USER,
  PermissionsError,
  type Plan,
  PRODUCTION_SERVER_VERSION,
  PROFILE_NAMES,
  type ProfileName,
  parseServerVersion,
  parseServiceAccess,
  permissionsOf,
  planChanges,
  renderAccounts,
  renderAuthorization,
  renderHelmValues,
  renderUserConfig,
  serverFacts,
} from "../../streams/src/index.js";
import { generateK8s } from "../deploy/generate-k8s.js";
import { generateWorkloads, writeWorkloads } from "../deploy/generate-workloads.js";
import { manifestOf, platformDeclarations, SERVICE_MANIFESTS } from "../manifests.js";
import { action, EXIT, UsageError, withNats } from "./run.js";

/** `--server-version`, refused unless it reads as a nats-server version. */
function checkedVersion(text: string): string {
  try {
    return parseServerVersion(text).text;
  } catch (err) {
    throw new UsageError(`--server-version: ${(err as Error).message} (e.g. 2.12.0)`);
  }
}

const out = (line = "") => process.stdout.write(`${line}\n`);

interface DeclarationFlags {
  profile: ProfileName;
  replicas?: number;
}

const serverOption = () =>
  new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)");
const profileOption = (fallback: ProfileName) =>
  new Option("--profile <name>", "environment profile: replicas and size caps")
    .choices(PROFILE_NAMES)
    .default(fallback);
const replicasOption = () =>
  new Option(
    "--replicas <n>",
    "replicas of every stream and bucket (default: the profile's, 1 local, 3 production)",
  ).argParser((v) => {
    if (!/^[1-5]$/.test(v)) throw new InvalidArgumentError("must be an integer from 1 to 5");
    return Number(v);
  });

function declared(flags: DeclarationFlags): Declarations {
  return platformDeclarations(
    flags.replicas === undefined
      ? { profile: flags.profile }
      : { profile: flags.profile, replicas: flags.replicas },
  );
}

async function planAgainst(
  flags: DeclarationFlags & { server?: string },
  then: (plan: Plan, apply: (force: boolean) => Promise<void>) => Promise<number>,
) {
  return withNats(flags, async (nc) => {
    const jsm = await jetstreamManager(nc);
    const plan = await planChanges(jsm, declared(flags), serverFacts(nc));
    return then(plan, async (force) => {
      const result = await applyPlan(jsm, plan, { force });
      const counts = new Map<string, number>();
      for (const i of result.applied) {
        const verb = i.action === "create" ? "created" : i.recreate ? "recreated" : "updated";
        counts.set(verb, (counts.get(verb) ?? 0) + 1);
      }
      out(
        result.applied.length === 0
          ? "applied: nothing to do, the server matches the declarations"
          : `applied: ${[...counts].map(([verb, n]) => `${n} ${verb}`).join(", ")}; ${result.unchanged} unchanged`,
      );
    });
  });
}

export function streamsCommand(): Command {
  const cmd = new Command("streams").description(
    "JetStream streams, consumers and KV buckets as code (streams/src/declarations.ts and the services' manifests): plan, apply, k8s, permissions, accounts",
  );

  cmd
    .command("plan")
    .description(
      "show what apply would change on the server (+ create, ~ update, = unchanged, ! destructive); exit 1 when destructive changes are pending",
    )
    .addOption(serverOption())
    .addOption(profileOption("local"))
    .addOption(replicasOption())
    .action(
      action(async (opts: DeclarationFlags & { server?: string }) =>
        planAgainst(opts, async (plan) => {
          out(formatPlan(plan));
          const destructive = destructiveItems(plan);
          if (destructive.length === 0) return EXIT.ok;
          process.stderr.write(
            `threadline: ${destructive.length} destructive change(s) pending: \`threadline streams apply\` refuses them without --force\n`,
          );
          return EXIT.failed;
        }),
      ),
    );

  cmd
    .command("apply")
    .description(
      "make the server match the declarations; refuses destructive changes (changing nothing) unless --force",
    )
    .addOption(serverOption())
    .addOption(profileOption("local"))
    .addOption(replicasOption())
    .option(
      "--force",
      "also apply destructive changes; what the server cannot change in place (storage, retention on 2.9, consumer deliver policy) is deleted and recreated",
    )
    .action(
      action(async (opts: DeclarationFlags & { server?: string; force?: boolean }) =>
        planAgainst(opts, async (plan, apply) => {
          out(formatPlan(plan));
          await apply(opts.force === true);
          return EXIT.ok;
        }),
      ),
    );

  cmd
    .command("k8s")
    .description(
      "print the NACK resources (jetstream.nats.io/v1beta2 Stream, Consumer, KeyValue) for the declarations: threadline streams k8s > deploy/k8s/streams/streams.yaml",
    )
    .addOption(profileOption("production"))
    .addOption(replicasOption())
    .option(
      "--workloads",
      "print the services' workloads instead (Deployment or StatefulSet, ConfigMap, Service, PodDisruptionBudget, NetworkPolicy, NATS client Certificate)",
    )
    .option("--write", "with --workloads: write the Kustomize base deploy/k8s/base/ instead of printing")
    .option(
      "--server-version <version>",
      "the nats-server the resources are for: features newer than it are left out (partition durables are pinned to their owner from 2.11)",
      PRODUCTION_SERVER_VERSION,
    )
    .action(
      action(
        async (opts: DeclarationFlags & { workloads?: boolean; write?: boolean; serverVersion: string }) => {
          if (opts.write && !opts.workloads) throw new UsageError("--write goes with --workloads");
          if (opts.workloads && opts.write)
            for (const path of writeWorkloads(SERVICE_MANIFESTS)) process.stdout.write(`wrote ${path}\n`);
          else
            process.stdout.write(
              opts.workloads
                ? generateWorkloads(SERVICE_MANIFESTS)
                : generateK8s(declared(opts), checkedVersion(opts.serverVersion)),
            );
          return EXIT.ok;
        },
      ),
    );

  cmd
    .command("permissions")
    .description(
      "print the least-privilege NATS users of services — Threadline's own by name (from their manifests), or any service from an access file (JSON or YAML: service, consumes, publishes, kvRead, kvWrite; see docs/security.md) — as a nats-server authorization block, Helm values or JSON",
    )
    .argument(
      "[services...]",
      `a service name (${SERVICE_MANIFESTS.map((m) => m.service).join(", ")}), ops (the user of the dlq, replay and audit commands), analyst (tap and the stream readers, read-only) or an access file; default: every service of Threadline`,
    )
    .addOption(
      new Option("--format <format>", "conf: nats-server authorization block; helm: nats chart values; json")
        .choices(["conf", "helm", "json"])
        .default("conf"),
    )
    .option(
      "--password-ref <ref>",
      "with one file: the password as a $VARIABLE or a bcrypt hash, never in clear (default: $<SERVICE>_NATS_PASSWORD)",
    )
    .option(
      "--secret <name>",
      "helm: the Kubernetes Secret holding the passwords, key = user",
      "threadline-nats-users",
    )
    .action(
      action(
        async (
          files: string[],
          opts: { format: "conf" | "helm" | "json"; passwordRef?: string; secret: string },
        ) => {
          if (files.length === 0) files = SERVICE_MANIFESTS.map((m) => m.service);
          if (opts.passwordRef !== undefined && files.length !== 1)
            throw new UsageError("--password-ref names the password of one service: give exactly one");
          const decls = platformDeclarations();
          const users = files.map((file) => {
            const manifest = manifestOf(file);
            let data: unknown;
            if (!manifest && file !== OPS_USER && file !== ANALYST_USER)
              try {
                data = parseYaml(readFileSync(file, "utf8")); // YAML is a superset of JSON
              } catch (cause) {
                throw new UsageError(
                  `${file} is neither a service of Threadline (${SERVICE_MANIFESTS.map((m) => m.service).join(", ")}) nor a readable access file: ${(cause as Error).message}`,
                );
              }
            try {
              if (!manifest && file === ANALYST_USER) {
                const { grants, deny } = explainAnalystPermissions(decls);
                const perms = permissionsOf(grants);
                return {
                  user: ANALYST_USER,
                  perms: { ...perms, publish: { ...perms.publish, deny: deny.map((d) => d.subject) } },
                  explain: grants,
                  ...(opts.passwordRef === undefined ? {} : { passwordRef: opts.passwordRef }),
                };
              }
              if (!manifest && file === OPS_USER) {
                const grants = explainOpsPermissions(decls);
                return {
                  user: OPS_USER,
                  perms: permissionsOf(grants),
                  explain: grants,
                  ...(opts.passwordRef === undefined ? {} : { passwordRef: opts.passwordRef }),
                };
              }
              const access = manifest ? manifestAccess(manifest) : parseServiceAccess(data, file);
              const grants = explainPermissions(access, decls);
              return {
                user: access.service,
                perms: permissionsOf(grants),
                explain: grants,
                ...(opts.passwordRef === undefined ? {} : { passwordRef: opts.passwordRef }),
              };
            } catch (err) {
              if (err instanceof PermissionsError) throw new UsageError(`${file}: ${err.message}`);
              throw err;
            }
          });
          let text: string;
          try {
            if (opts.format === "json")
              text = `${JSON.stringify(
                users.map((u) => ({ user: u.user, permissions: u.perms })),
                null,
                2,
              )}\n`;
            else if (opts.format === "helm") text = renderHelmValues(users, { secret: opts.secret });
            else
              text = [
                "# Generated by `threadline streams permissions` (docs/security.md): one least-privilege user per service.",
                "# Passwords are $VARIABLES resolved by nats-server from its environment; add your admin users.",
                renderAuthorization(users.map((u) => renderUserConfig(u.perms, u))),
              ].join("\n");
          } catch (err) {
            if (err instanceof PermissionsError) throw new UsageError(err.message);
            throw err;
          }
          process.stdout.write(text);
          return EXIT.ok;
        },
      ),
    );

  cmd
    .command("accounts")
    .description(
      "print the nats-server accounts: THREADLINE with JetStream (every stream, bucket and durable) and one account per service, ops and analyst that imports only what its user may do (docs/security.md): threadline streams accounts > deploy/nats/accounts.conf",
    )
    .action(
      action(async () => {
        try {
          process.stdout.write(
            renderAccounts(
              accountsOf({ services: SERVICE_MANIFESTS.map(manifestAccess), decls: platformDeclarations() }),
            ),
          );
        } catch (err) {
          if (err instanceof PermissionsError) throw new UsageError(err.message);
          throw err;
        }
        return EXIT.ok;
      }),
    );

  return cmd;
}
