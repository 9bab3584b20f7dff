/**
 * What every CLI command shares: exit codes, error rendering, stdin/stdout, the NATS connection.
 * Exit codes: 0 ok, 1 failed (incompatible, refused, unreachable), 2 usage error.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { ThreadlineError } from "../../contracts/src/index.js";
import { connectNats, natsSettingsFromEnv } from "../../streams/src/index.js";

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A wrong flag, argument or input shape: exit code 2. */
export class UsageError extends ThreadlineError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

/** A command outcome that is a failure but already explained on stdout/stderr (exit code 1). */
export class CommandFailed extends ThreadlineError {
  constructor(message: string) {
    super("COMMAND_FAILED", message);
  }
}

export async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) throw new UsageError("expected input on stdin (pipe a file or use < file)");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Options every command that talks to NATS accepts. */
export interface ServerFlags {
  server?: string;
}

export async function withNats<T>(flags: ServerFlags, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const settings = natsSettingsFromEnv(process.env, flags.server ? { servers: flags.server.split(",") } : {});
  const nc = await connectNats({ ...settings, name: "threadline-cli" });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

/** Runs a command action, turning errors into messages and exit codes. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | undefined>) {
  return async (...args: A): Promise<void> => {
    try {
      process.exitCode = (await fn(...args)) ?? EXIT.ok;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

export function reportError(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`threadline: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof CommandFailed) {
    process.stderr.write(`threadline: ${err.message}\n`);
    return EXIT.failed;
  }
  if (err instanceof ThreadlineError) {
    process.stderr.write(`threadline: error ${err.code}: ${err.message}\n`);
    return err.code === "CONFIG_INVALID" ? EXIT.usage : EXIT.failed;
  }
  process.stderr.write(`threadline: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.failed;
}
