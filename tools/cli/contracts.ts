/** `threadline contracts …`: check, register, list, show, encode, decode. */
import { execFileSync } from "node:child_process";
import { Command, InvalidArgumentError, Option } from "commander";
import {
  type AvroSchema,
  Catalog,
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
  DEFAULT_COMPATIBILITY_MODE,
  EventCodec,
  type EventContract,
  formatReport,
  fromJson,
  lintContract,
  PayloadInvalidError,
  parseSchemaText,
  SCHEMAS_DIR,
  SchemaRegistry,
  toJson,
} from "../../contracts/src/index.js";
import { action, CommandFailed, EXIT, readStdin, UsageError, withNats } from "./run.js";

const out = (line = "") => process.stdout.write(`${line}\n`);

function loadCatalog(dir: string | undefined): Catalog {
  return Catalog.load(dir ?? SCHEMAS_DIR);
}

function pick(catalog: Catalog, types: string[]): EventContract[] {
  if (types.length === 0) return catalog.list();
  return types.map((t) => {
    const c = catalog.find(t);
    if (!c)
      throw new UsageError(
        `unknown event type ${t}; \`threadline contracts list --local\` shows the catalog`,
      );
    return c;
  });
}

/** The schema text of `file` (relative to the schemas folder) at a git ref, or undefined when absent there. */
function schemaAtRef(ref: string, file: string, dir: string): string | undefined {
  const repoRoot = execFileSync("git", ["rev-parse", "--show-toplevel"], {
    cwd: dir,
    encoding: "utf8",
  }).trim();
  const rel = `${dir.slice(repoRoot.length + 1)}/${file}`;
  try {
    execFileSync("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], {
      cwd: repoRoot,
      stdio: "ignore",
    });
  } catch {
    throw new UsageError(`--git-ref ${ref} is not a commit in ${repoRoot}`);
  }
  try {
    return execFileSync("git", ["show", `${ref}:${rel}`], {
      cwd: repoRoot,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined;
  }
}

const serverOption = () =>
  new Option("-s, --server <url>", "NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222)");
const dirOption = () =>
  new Option("--dir <path>", "folder of .avsc schemas").default(undefined, "contracts/schemas");

export function contractsCommand(): Command {
  const cmd = new Command("contracts").description("the Avro event contracts and the schema registry");

  cmd
    .command("check")
    .description(
      "check the working tree's schemas: style rules, then compatibility against the registry or a git ref (a CI gate)",
    )
    .argument("[event-types...]", "event types to check (default: all)")
    .addOption(serverOption())
    .option("--git-ref <ref>", "compare with the schemas at this git ref instead of the registry")
    .addOption(dirOption())
    .addOption(
      new Option(
        "--compatibility <mode>",
        "mode for the git-ref comparison (the registry's default unless given)",
      )
        .choices(COMPATIBILITY_MODES)
        .default(DEFAULT_COMPATIBILITY_MODE),
    )
    .action(
      action(
        async (
          types: string[],
          opts: { server?: string; gitRef?: string; dir?: string; compatibility: CompatibilityMode },
        ) => {
          const catalog = loadCatalog(opts.dir);
          const contracts = pick(catalog, types);
          let failed = 0;
          // One verdict per type: its style problems and its compatibility together.
          const verdict = (c: EventContract, compatible: boolean, text: string) => {
            const style = lintContract(c);
            const ok = compatible && style.length === 0;
            if (!ok) failed++;
            const lines = [...style.map((p) => `style: ${p}`), ...text.split("\n")];
            const [first, ...rest] = ok ? [text] : lines;
            out(`${ok ? "ok  " : "FAIL"} ${c.eventType}: ${first}`);
            for (const line of rest) out(`       ${line.trimStart()}`);
          };
          if (opts.gitRef) {
            for (const c of contracts) {
              const old = schemaAtRef(opts.gitRef, c.file, opts.dir ?? SCHEMAS_DIR);
              if (old === undefined) {
                verdict(c, true, `new at this major (not in ${opts.gitRef})`);
                continue;
              }
              const report = checkCompatibility(
                c.json as AvroSchema,
                [parseSchemaText(old, `${opts.gitRef}:${c.file}`) as AvroSchema],
                opts.compatibility,
              );
              verdict(
                c,
                report.compatible,
                report.compatible
                  ? `compatible with ${opts.gitRef} under ${opts.compatibility}${opts.compatibility === DEFAULT_COMPATIBILITY_MODE ? " (the default)" : ""}`
                  : formatReport(report, ` with ${opts.gitRef}`),
              );
            }
          } else {
            await withNats(opts, async (nc) => {
              const registry = await SchemaRegistry.open(nc);
              for (const c of contracts) {
                const report = await registry.check(c.eventType, c.text);
                const whose = report.compatibilitySet ? "set for this subject" : "the default";
                if (report.alreadyRegistered !== undefined)
                  verdict(
                    c,
                    true,
                    `registered as version ${report.alreadyRegistered} (${report.mode}, ${whose})`,
                  );
                else
                  verdict(
                    c,
                    report.compatible,
                    report.compatible
                      ? `compatible under ${report.mode} (${whose}; ${report.checkedVersions.length} version(s) checked), not yet registered`
                      : formatReport(report, ` (${whose})`),
                  );
              }
            });
          }
          out(
            failed === 0
              ? `${contracts.length} contract(s) ok`
              : `${failed} of ${contracts.length} contract(s) failed`,
          );
          return failed === 0 ? EXIT.ok : EXIT.failed;
        },
      ),
    );

  cmd
    .command("register")
    .description(
      "register the working tree's schemas (all or the named event types); nothing is written unless every one is accepted",
    )
    .argument("[event-types...]", "event types to register (default: all)")
    .addOption(serverOption())
    .addOption(dirOption())
    .addOption(
      new Option(
        "--compatibility <mode>",
        `mode set for subjects created now (else they follow the default, ${DEFAULT_COMPATIBILITY_MODE})`,
      ).choices(COMPATIBILITY_MODES),
    )
    .action(
      action(
        async (
          types: string[],
          opts: { server?: string; dir?: string; compatibility?: CompatibilityMode },
        ) => {
          const contracts = pick(loadCatalog(opts.dir), types);
          return withNats(opts, async (nc) => {
            const registry = await SchemaRegistry.open(nc);
            const refused: string[] = [];
            for (const c of contracts) {
              const report = await registry.check(c.eventType, c.text);
              if (!report.compatible && report.alreadyRegistered === undefined)
                refused.push(`${c.eventType}: ${formatReport(report)}`);
            }
            if (refused.length > 0) {
              for (const r of refused) out(`FAIL ${r}`);
              throw new CommandFailed(`${refused.length} schema(s) refused; nothing registered`);
            }
            for (const c of contracts) {
              const r = await registry.register(
                c.eventType,
                c.text,
                opts.compatibility ? { compatibility: opts.compatibility } : {},
              );
              out(
                `${r.created ? "registered" : "unchanged "} ${c.eventType} version ${r.version} (${r.fingerprint})`,
              );
            }
            return EXIT.ok;
          });
        },
      ),
    );

  cmd
    .command("compatibility")
    .description(
      `show a subject's compatibility mode, or set it deliberately (the default, ${DEFAULT_COMPATIBILITY_MODE}, keeps readers of every version reading every other)`,
    )
    .argument("<event-type>")
    .argument("[mode]", `one of ${COMPATIBILITY_MODES.join(", ")}`, (v: string) => {
      if (!(COMPATIBILITY_MODES as readonly string[]).includes(v))
        throw new InvalidArgumentError(`must be one of ${COMPATIBILITY_MODES.join(", ")}`);
      return v as CompatibilityMode;
    })
    .addOption(serverOption())
    .action(
      action(async (eventType: string, mode: CompatibilityMode | undefined, opts: { server?: string }) =>
        withNats(opts, async (nc) => {
          const registry = await SchemaRegistry.open(nc);
          if (mode !== undefined) await registry.setCompatibility(eventType, mode);
          const s = await registry.subject(eventType);
          const effective = s?.compatibility ?? DEFAULT_COMPATIBILITY_MODE;
          out(`${eventType}\t${effective}\t${s?.compatibilitySet ? "set for this subject" : "the default"}`);
          return EXIT.ok;
        }),
      ),
    );

  cmd
    .command("list")
    .description("list the registry's subjects and versions (or the local catalog with --local)")
    .addOption(serverOption())
    .option("--local", "list the working tree's catalog instead of the registry")
    .addOption(dirOption())
    .action(
      action(async (opts: { server?: string; local?: boolean; dir?: string }) => {
        if (opts.local) {
          for (const c of loadCatalog(opts.dir).list()) out(`${c.eventType}\t${c.fingerprint}\t${c.file}`);
          return EXIT.ok;
        }
        return withNats(opts, async (nc) => {
          const registry = await SchemaRegistry.open(nc);
          for (const s of await registry.list()) {
            out(
              `${s.subject}\t${s.compatibility}${s.compatibilitySet ? "" : " (default)"}\t${s.versions.map((v) => `v${v.version}=${v.fingerprint}`).join(" ")}`,
            );
          }
          return EXIT.ok;
        });
      }),
    );

  cmd
    .command("show")
    .description("print a subject's schema text (the latest version unless one is given)")
    .argument("<event-type>")
    .argument("[version]", "registry version (default: latest)", (v: string) => {
      if (!/^[1-9]\d*$/.test(v)) throw new InvalidArgumentError("must be a positive integer");
      return Number(v);
    })
    .addOption(serverOption())
    .option("--local", "show the working tree's schema instead of the registry's")
    .addOption(dirOption())
    .action(
      action(
        async (
          eventType: string,
          version: number | undefined,
          opts: { server?: string; local?: boolean; dir?: string },
        ) => {
          if (opts.local) {
            out(pick(loadCatalog(opts.dir), [eventType])[0]?.text.trimEnd());
            return EXIT.ok;
          }
          return withNats(opts, async (nc) => {
            const s = await (await SchemaRegistry.open(nc)).get(eventType, version);
            process.stderr.write(`# ${s.subject} version ${s.version} fingerprint ${s.fingerprint}\n`);
            out(s.schema.trimEnd());
            return EXIT.ok;
          });
        },
      ),
    );

  cmd
    .command("encode")
    .description("read an event as JSON on stdin, write Avro single-object bytes on stdout")
    .argument("<event-type>")
    .option("--hex", "write hex text instead of raw bytes")
    .addOption(dirOption())
    .action(
      action(async (eventType: string, opts: { hex?: boolean; dir?: string }) => {
        const codec = new EventCodec({ catalog: loadCatalog(opts.dir) });
        const contract = pick(codec.catalog, [eventType])[0] as EventContract;
        if (process.stdout.isTTY && !opts.hex)
          throw new UsageError("refusing to write binary to a terminal: redirect stdout or add --hex");
        const input = (await readStdin()).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(input);
        } catch (e) {
          throw new UsageError(`stdin is not valid JSON: ${(e as Error).message}`);
        }
        const { value, problems } = fromJson(contract.type, json);
        if (problems.length > 0) throw new PayloadInvalidError(eventType, problems);
        const bytes = codec.encodeWith(contract, value);
        process.stdout.write(opts.hex ? `${bytes.toString("hex")}\n` : bytes);
        return EXIT.ok;
      }),
    );

  cmd
    .command("decode")
    .description(
      "read Avro single-object bytes on stdin, write JSON on stdout naming the writer schema and version",
    )
    .addOption(serverOption())
    .option("--local", "use only the working tree's schemas (no registry)")
    .option("--as <event-type>", "resolve to this reader event type (default: the writer's subject)")
    .option("--hex", "stdin is hex text")
    .addOption(dirOption())
    .action(
      action(async (opts: { server?: string; local?: boolean; as?: string; hex?: boolean; dir?: string }) => {
        const raw = await readStdin();
        const bytes = opts.hex ? Buffer.from(raw.toString("utf8").replace(/\s+/g, ""), "hex") : raw;
        const run = async (codec: EventCodec) => {
          const decoded = await codec.decode(bytes, opts.as ? { as: opts.as } : {});
          const value = toJson(decoded.type, decoded.value);
          out(
            JSON.stringify(
              {
                eventType: decoded.eventType ?? null,
                writer: {
                  subject: decoded.writer.subject ?? null,
                  version: decoded.writer.version ?? null,
                  fingerprint: decoded.writer.fingerprint,
                },
                value,
              },
              null,
              2,
            ),
          );
          return EXIT.ok;
        };
        const catalog = loadCatalog(opts.dir);
        if (opts.local) return run(new EventCodec({ catalog }));
        return withNats(opts, async (nc) =>
          run(new EventCodec({ catalog, writers: await SchemaRegistry.open(nc) })),
        );
      }),
    );

  return cmd;
}
