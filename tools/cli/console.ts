/**
 * `threadline console account --name <name> --roles <roles>`: a local account of the ops console,
 * offline. It makes a password (or reads one from standard input with --password-stdin), prints it once,
 * and prints the entry — the password's scrypt hash, never the password — to add to the console's
 * CONSOLE_ACCOUNTS_FILE. Exit codes: 0 ok, 2 usage error.
 */
import { randomBytes } from "node:crypto";
import { Command } from "commander";
import { hashPassword } from "../../services/ops-console/src/accounts.js";
import { CONSOLE_ROLES, type ConsoleRole } from "../../services/ops-console/src/roles.js";
import { action, EXIT, UsageError } from "./run.js";

/** A password chosen by a person must not be guessable in the throttle's few tries a window. */
const MIN_PASSWORD = 12;

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text.replace(/\r?\n$/, "");
}

export function consoleCommand(): Command {
  const cmd = new Command("console").description("the ops console: its local accounts");
  cmd
    .command("account")
    .description(
      "make a local account of the ops console: prints its password once and the entry (the scrypt hash, not the password) for CONSOLE_ACCOUNTS_FILE",
    )
    .requiredOption("--name <name>", "the person's sign-in name")
    .requiredOption(
      "--roles <roles>",
      `comma-separated: ${CONSOLE_ROLES.join(", ")} (every role implies viewer)`,
    )
    .option("--password-stdin", `read the password from standard input (at least ${MIN_PASSWORD} characters)`)
    .option("--json", "print the password (when made here) and the entry as JSON")
    .action(
      action(async (opts: { name: string; roles: string; passwordStdin?: boolean; json?: boolean }) => {
        if (!/^[A-Za-z0-9@._-]{1,64}$/.test(opts.name))
          throw new UsageError(
            `--name must be 1-64 of letters, digits, '@', '.', '_', '-' (got "${opts.name}")`,
          );
        const roles = [...new Set(opts.roles.split(",").map((r) => r.trim()))];
        for (const r of roles)
          if (!(CONSOLE_ROLES as readonly string[]).includes(r))
            throw new UsageError(`--roles: "${r}" is not a role (${CONSOLE_ROLES.join(", ")})`);
        const given = opts.passwordStdin ? await readStdin() : undefined;
        if (given !== undefined && given.length < MIN_PASSWORD)
          throw new UsageError(
            `the password read from standard input must be at least ${MIN_PASSWORD} characters`,
          );
        const password = given ?? randomBytes(15).toString("base64url");
        const entry = {
          name: opts.name,
          password: await hashPassword(password),
          roles: roles as ConsoleRole[],
        };
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...(given ? {} : { password }), entry })}\n`);
        else
          process.stdout.write(
            `${given ? "" : `password for ${opts.name} (shown once: give it to them; it is not stored anywhere):\n${password}\n\n`}add to the "accounts" of CONSOLE_ACCOUNTS_FILE, then restart the console:\n${JSON.stringify(entry)}\n`,
          );
        return EXIT.ok;
      }),
    );
  return cmd;
}
