/** The pino logger of every Threadline process: JSON lines, secrets redacted. */
import { type Logger, pino } from "pino";

export type { Logger };

/** Paths whose values never reach a log line. */
export const REDACT_PATHS = [
  "password",
  "*.password",
  "pass",
  "*.pass",
  "token",
  "*.token",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "creds",
  "*.creds",
  "secret",
  "*.secret",
  // The same secrets under their environment names (a config object logged by mistake).
  "NATS_PASSWORD",
  "*.NATS_PASSWORD",
  "NATS_TOKEN",
  "*.NATS_TOKEN",
  "METRICS_TOKEN",
  "*.METRICS_TOKEN",
];

export interface LoggerOptions {
  /** The service name, on every line. */
  service: string;
  /** @default $LOG_LEVEL, else "info" */
  level?: string;
  /** Where lines go. @default stdout */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? process.env["LOG_LEVEL"] ?? "info";
  const opts = {
    level,
    base: { service: options.service },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything, for libraries used without one. */
export const silentLogger: Logger = pino({ level: "silent" });
