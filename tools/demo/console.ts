/**
 * The demo's ops console: started as soon as the streams exist, so a newcomer can watch the whole run
 * in a browser. One local account, `demo`, with every role, and a fresh random password printed once;
 * the console listens on 127.0.0.1:9490 (or a free port when that one is taken).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashPassword } from "../../services/ops-console/src/accounts.js";
import { startService as startConsole } from "../../services/ops-console/src/main.js";
import type { RunningService } from "../../streams/src/index.js";

export const DEMO_ACCOUNT = "demo";

export interface ConsoleDemo {
  readonly url: string;
  readonly password: string;
  /** What `--hold` prints about the console. */
  describe(): string;
  stop(): Promise<void>;
}

export async function startConsoleDemo(options: {
  natsUrl: string;
  print: (line: string) => void;
  /** The quality service and genealogy builder, once they run. */
  env?: Record<string, string>;
}): Promise<ConsoleDemo> {
  const dir = mkdtempSync(join(tmpdir(), "threadline-demo-console-"));
  const password = randomBytes(9).toString("base64url");
  const accounts = join(dir, "accounts.json");
  writeFileSync(
    accounts,
    JSON.stringify({
      accounts: [
        { name: DEMO_ACCOUNT, password: await hashPassword(password), roles: ["operator", "quality"] },
      ],
    }),
    { mode: 0o600 },
  );
  const env = (port: string) => ({
    NATS_URL: options.natsUrl,
    SITE: "plant-lyon",
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: port,
    LOG_LEVEL: "silent",
    CONSOLE_ACCOUNTS_FILE: accounts,
    ...(options.env ?? {}),
  });
  let service: RunningService;
  try {
    service = await startConsole(env("9490"), {});
  } catch (err) {
    if (!/EADDRINUSE|address already in use/i.test(String((err as Error).message ?? err))) throw err;
    service = await startConsole(env("0"), {});
  }
  const url = service.url;
  options.print(`ops console: ${url}/ (sign in as ${DEMO_ACCOUNT}, password ${password})`);
  return {
    url,
    password,
    describe: () =>
      `ops console: ${url}/ (sign in as ${DEMO_ACCOUNT}, password ${password}; roles operator, quality)`,
    stop: async () => {
      await service.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
