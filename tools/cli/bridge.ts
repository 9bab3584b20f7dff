/**
 * `threadline bridge --config plant.yaml`: the machine bridge service in the foreground (the same
 * as `BRIDGE_CONFIG=plant.yaml node dist/services/machine-bridge/src/main.js`); NATS, HTTP and log
 * settings come from the environment as for every service. Runs until SIGTERM/SIGINT. A bad
 * mapping exits 2 naming the key before anything connects.
 *
 * `--check` validates the mapping; `--check --live` also connects to every endpoint and lists every
 * node with its status and type (exit 1 when one is not good). `threadline bridge discover
 * --endpoint opc.tcp://…` browses a server and prints (or writes) a mapping skeleton.
 */
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { loadBridgeConfig } from "../../services/machine-bridge/src/config.js";
import { action, EXIT } from "./run.js";

const out = (line: string) => process.stdout.write(`${line}\n`);
/** node-opcua's chatter: never on stdout, where a command's output goes. */
const toStderr = (_level: string, line: string) => process.stderr.write(`${line}\n`);

export function bridgeCommand(): Command {
  const cmd = new Command("bridge")
    .description(
      "run the machine bridge: OPC UA machines -> machine and production events (NATS_URL, HTTP_PORT ... from the environment; see services/machine-bridge/README.md)",
    )
    .option(
      "--config <file.yaml>",
      "the plant mapping: endpoints, machines, signals (required to run or check)",
    )
    .option("--check", "validate the mapping and exit")
    .option("--live", "with --check: connect to every endpoint and check every node (exists, readable, type)")
    .action(
      action(async (opts: { config?: string; check?: boolean; live?: boolean }) => {
        if (!opts.config) {
          process.stderr.write("threadline: bridge needs --config <file.yaml> (or a command: discover)\n");
          return EXIT.usage;
        }
        if (opts.live && !opts.check) {
          process.stderr.write("threadline: --live goes with --check\n");
          return EXIT.usage;
        }
        const config = loadBridgeConfig(opts.config);
        if (opts.check) {
          const machines = config.endpoints.reduce((n, e) => n + e.machines.length, 0);
          out(`${opts.config}: ${config.endpoints.length} endpoints, ${machines} machines: valid`);
          if (!opts.live) return EXIT.ok;
          // Loaded here: node-opcua takes seconds to import, which every other command would pay.
          const { routeNodeOpcuaLogs } = await import("../../services/machine-bridge/src/opcua/client.js");
          routeNodeOpcuaLogs(toStderr);
          const { checkLive } = await import("../../services/machine-bridge/src/check.js");
          let problems = 0;
          for (const e of await checkLive(config)) {
            if (e.failure) {
              problems++;
              out(`${e.endpoint} ${e.url}: not checked: ${e.failure}`);
              continue;
            }
            out(`${e.endpoint} ${e.url}:`);
            for (const n of e.nodes) {
              if (n.status !== "Good") problems++;
              const type = n.dataType
                ? `${n.dataType}${n.builtInType && n.builtInType !== n.dataType ? ` (${n.builtInType})` : ""}${n.valueRank !== null && n.valueRank >= 1 ? "[]" : ""}`
                : "-";
              out(
                `  ${n.status === "Good" ? "ok  " : "FAIL"} ${n.machine} ${n.signal} ${n.nodeId} ${n.status} ${type}${n.detail ? `: ${n.detail}` : ""}`,
              );
            }
          }
          out(problems === 0 ? "every node is good" : `${problems} problem(s)`);
          return problems === 0 ? EXIT.ok : EXIT.failed;
        }
        // A failed start ends the process with the service's JSON failure line, as the service itself does.
        const { main } = await import("../../services/machine-bridge/src/main.js");
        await main({ ...process.env, BRIDGE_CONFIG: opts.config });
        await new Promise<never>(() => {}); // runService's signal handlers end the process
      }),
    );
  cmd.addCommand(discoverCommand());
  return cmd;
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive integer");
  return n;
};

function discoverCommand(): Command {
  return new Command("discover")
    .description(
      "browse an OPC UA server and write a mapping skeleton (variables with node ids, data types, units and ranges; PackML, Machinery and alarms recognised) to edit",
    )
    .requiredOption("--endpoint <opc.tcp://host:port>", "the server")
    .addOption(
      new Option("--security-mode <mode>", "message security")
        .choices(["None", "Sign", "SignAndEncrypt"])
        .default("None"),
    )
    .addOption(
      new Option("--security-policy <policy>", "security policy")
        .choices(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
        .default("None"),
    )
    .option("--user <name>", "UserName identity (anonymous without)")
    .option("--password-env <VAR>", "the environment variable holding the password (with --user)")
    .option("--pki-folder <dir>", "node-opcua's certificates (own, trusted, rejected)", "./pki")
    .option(
      "--trust-server-certificate",
      "trust the server's certificate when seen for the first time (test plants)",
    )
    .option("--root <nodeId>", "browse from this node instead of the Objects folder")
    .option("--max-depth <n>", "levels to browse below the root", positiveInt, 12)
    .option("--max-nodes <n>", "nodes to visit at most", positiveInt, 20_000)
    .option("--out <file.yaml>", "write the skeleton there instead of stdout")
    .action(
      action(
        async (opts: {
          endpoint: string;
          securityMode: "None" | "Sign" | "SignAndEncrypt";
          securityPolicy: string;
          user?: string;
          passwordEnv?: string;
          pkiFolder: string;
          trustServerCertificate?: boolean;
          root?: string;
          maxDepth: number;
          maxNodes: number;
          out?: string;
        }) => {
          if (!/^opc\.tcp:\/\/[^\s/]+(:\d+)?(\/.*)?$/.test(opts.endpoint)) {
            process.stderr.write("threadline: --endpoint must be an opc.tcp://host:port URL\n");
            return EXIT.usage;
          }
          if ((opts.securityMode === "None") !== (opts.securityPolicy === "None")) {
            process.stderr.write(
              `threadline: --security-mode ${opts.securityMode} needs ${opts.securityMode === "None" ? "--security-policy None" : "a --security-policy other than None"}\n`,
            );
            return EXIT.usage;
          }
          if (opts.user && !opts.passwordEnv) {
            process.stderr.write(
              "threadline: --user needs --password-env <VAR> (the password is never a flag)\n",
            );
            return EXIT.usage;
          }
          const password = opts.passwordEnv ? process.env[opts.passwordEnv] : undefined;
          if (opts.passwordEnv && password === undefined) {
            process.stderr.write(`threadline: --password-env names ${opts.passwordEnv}, which is not set\n`);
            return EXIT.usage;
          }
          const { OPCUACertificateManager } = await import("node-opcua");
          const { withSession, reasonOf, routeNodeOpcuaLogs } = await import(
            "../../services/machine-bridge/src/opcua/client.js"
          );
          routeNodeOpcuaLogs(toStderr);
          const { discover, skeleton } = await import("../../services/machine-bridge/src/opcua/discover.js");
          const certificateManager = new OPCUACertificateManager({
            rootFolder: opts.pkiFolder,
            automaticallyAcceptUnknownCertificate: opts.trustServerCertificate === true,
          });
          await certificateManager.initialize();
          const security = { mode: opts.securityMode, policy: opts.securityPolicy };
          const user =
            opts.user && opts.passwordEnv
              ? { username: opts.user, passwordEnv: opts.passwordEnv }
              : undefined;
          let text: string;
          try {
            const found = await withSession(
              {
                id: "discover",
                url: opts.endpoint,
                security,
                ...(user ? { user } : {}),
                sessionTimeoutMs: 60_000,
                reconnect: { initialDelayMs: 500, maxDelayMs: 2_000 },
              },
              certificateManager,
              password,
              (session) =>
                discover(session, {
                  ...(opts.root ? { root: opts.root } : {}),
                  maxDepth: opts.maxDepth,
                  maxNodes: opts.maxNodes,
                }),
            );
            text = skeleton(found, { url: opts.endpoint, security, ...(user ? { user } : {}) });
            process.stderr.write(
              `${found.objects.length} objects, ${found.objects.reduce((n, o) => n + o.variables.length, 0)} variables${found.truncated ? " (stopped at --max-nodes)" : ""}\n`,
            );
          } catch (err) {
            process.stderr.write(`threadline: cannot browse ${opts.endpoint}: ${reasonOf(err)}\n`);
            return EXIT.failed;
          } finally {
            await certificateManager.dispose();
          }
          if (opts.out) writeFileSync(opts.out, text);
          else process.stdout.write(text);
          return EXIT.ok;
        },
      ),
    );
}
