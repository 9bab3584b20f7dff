/**
 * Local accounts: `threadline console account` makes an entry that signs in with its password and only
 * with it, the file holds no password, and a wrong accounts file stops the console naming the entry.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { LocalAccounts } from "../../services/ops-console/src/accounts.js";
import { threadline } from "../harness/cli.js";

const dir = mkdtempSync(join(tmpdir(), "threadline-accounts-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("threadline console account", () => {
  test("an entry made from a password signs in with it, not with another, and holds no password", async () => {
    const password = "a long passphrase 4 the line";
    const run = await threadline(
      ["console", "account", "--name", "alice", "--roles", "operator,quality", "--password-stdin", "--json"],
      {
        input: `${password}\n`,
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const { entry, password: shown } = JSON.parse(run.stdout) as {
      entry: { password: string; roles: string[] };
      password?: string;
    };
    assert.equal(shown, undefined, "a password given is not printed back");
    assert.doesNotMatch(JSON.stringify(entry), /passphrase/);
    assert.deepEqual(entry.roles, ["operator", "quality"]);
    const file = join(dir, "accounts.json");
    writeFileSync(file, JSON.stringify({ accounts: [entry] }));
    const accounts = LocalAccounts.load(file);
    const alice = await accounts.verify("alice", password);
    assert.deepEqual(alice?.roles, ["viewer", "operator", "quality"]);
    assert.equal(await accounts.verify("alice", `${password}!`), undefined);
    assert.equal(await accounts.verify("mallory", password), undefined);
  });

  test("without a password given, one is made and shown once; a role that is not one and a short password are usage errors", async () => {
    const made = await threadline(["console", "account", "--name", "bob", "--roles", "viewer", "--json"]);
    assert.equal(made.code, 0, made.stderr);
    const { password } = JSON.parse(made.stdout) as { password: string };
    assert.ok(password.length >= 20, "a strong password is made");
    const badRole = await threadline(["console", "account", "--name", "bob", "--roles", "admin"]);
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /--roles: "admin" is not a role \(viewer, operator, quality\)/);
    const short = await threadline(
      ["console", "account", "--name", "bob", "--roles", "viewer", "--password-stdin"],
      { input: "hunter2\n" },
    );
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 12 characters/);
  });
});

describe("the accounts file", () => {
  test("a wrong entry stops the console with CONSOLE_ACCOUNTS_INVALID naming it", () => {
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({ accounts: [{ name: "carol", password: "plain-text", roles: ["viewer"] }] }),
    );
    assert.throws(() => LocalAccounts.load(file), {
      code: "CONSOLE_ACCOUNTS_INVALID",
      message: /accounts\.0\.password must be scrypt:<salt>:<hash>/,
    });
    writeFileSync(file, "{ not json");
    assert.throws(() => LocalAccounts.load(file), {
      code: "CONSOLE_ACCOUNTS_INVALID",
      message: /cannot be read as JSON/,
    });
  });
});
