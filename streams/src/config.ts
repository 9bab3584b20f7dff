/**
 * Service configuration: an optional file (YAML or JSON, path in `THREADLINE_CONFIG`) overlaid by
 * environment variables, validated by zod. An error names the variable or key and what was wrong,
 * before anything connects. Secrets are read like any value and never logged.
 */

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { DEFAULT_DRAIN_MS } from "./shutdown.js";

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().positive();

/** What every service reads; a service extends it with its own keys. Env names are the keys. */
export const BaseServiceConfig = z.object({
  /** Service name in logs, metrics, `ce-source` and the NATS connection name. */
  SERVICE_NAME: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/, "lower-case letters, digits and dashes")
    .optional(),
  /** Site token of `ce-source` and subjects. @default "site1" */
  SITE: z.string().min(1).default("site1"),
  /** NATS servers, comma-separated. @default nats://127.0.0.1:4222 */
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  NATS_CREDS: z.string().min(1).optional(),
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_TOKEN: z.string().min(1).optional(),
  /** Health/metrics HTTP server. @default 0.0.0.0:9464 */
  HTTP_HOST: z.string().min(1).default("0.0.0.0"),
  HTTP_PORT: port.default(9464),
  /** Bearer token required on /metrics (health probes stay open). @default none: /metrics is open */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** How long a SIGTERM drain may take before in-flight work is aborted. @default 25000 */
  DRAIN_TIMEOUT_MS: positiveMs.default(DEFAULT_DRAIN_MS),
});
export type BaseServiceConfig = z.infer<typeof BaseServiceConfig>;

export interface LoadConfigOptions {
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** A config file (YAML or JSON); its keys are the same names as the env variables. @default $THREADLINE_CONFIG */
  file?: string;
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConfigError("THREADLINE_CONFIG", `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let data: unknown;
  try {
    data = parseYaml(text); // YAML is a superset of JSON
  } catch (cause) {
    throw new ConfigError(path, `is not valid YAML/JSON: ${(cause as Error).message}`, { cause });
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data))
    throw new ConfigError(path, "must hold a mapping of settings");
  return data as Record<string, unknown>;
}

/**
 * Loads and validates a config: file values first, then environment variables over them
 * (empty variables count as unset).
 */
export function loadConfig<S extends z.ZodObject>(schema: S, options: LoadConfigOptions = {}): z.infer<S> {
  const env = options.env ?? process.env;
  const file = options.file ?? env["THREADLINE_CONFIG"];
  const fromFile = file ? readFile(file) : {};
  const merged: Record<string, unknown> = { ...fromFile };
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") merged[key] = value;
  }
  const unknown = Object.keys(fromFile).filter((k) => !(k in schema.shape));
  if (unknown.length > 0) throw new ConfigError(unknown[0] as string, `in ${file} is not a known setting`);
  const parsed = schema.safeParse(merged);
  if (!parsed.success) throw ConfigError.fromZod(parsed.error, file ?? "environment");
  return parsed.data;
}

/**
 * Validates a structured config document (a plant mapping, a simulator's plant) against `schema`;
 * a {@link ConfigError} names the offending key, `where` names the document.
 */
export function parseStructured<S extends z.ZodType>(schema: S, input: unknown, where: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw ConfigError.fromZod(result.error, where);
}

/** Reads a YAML or JSON file and validates it like {@link parseStructured}. */
export function loadStructured<S extends z.ZodType>(schema: S, path: string): z.infer<S> {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(path, "utf8")); // YAML is a superset of JSON
  } catch (cause) {
    throw new ConfigError(path, `cannot be read as YAML/JSON: ${(cause as Error).message}`, { cause });
  }
  return parseStructured(schema, data, path);
}
