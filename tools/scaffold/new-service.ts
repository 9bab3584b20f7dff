/**
 * `threadline new service <name>`: a new service from the template (templates.ts), registered in
 * tools/manifests.ts (register.ts). Everything is checked and rendered before the first write, and a
 * failed write removes what this run wrote, so an error leaves the checkout as it was.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ScaffoldError, ScaffoldErrorCode, serviceNames } from "./names.js";
import { registerManifest } from "./register.js";
import { serviceFiles, type TemplateFile } from "./templates.js";

export const MANIFESTS_FILE = "tools/manifests.ts";

/** What creating a service would do. */
export interface ServicePlan {
  readonly service: string;
  /** The repository root the paths are relative to. */
  readonly root: string;
  /** New files. */
  readonly create: readonly TemplateFile[];
  /** Changed files (tools/manifests.ts), with their whole new text. */
  readonly update: readonly TemplateFile[];
}

/**
 * Checks the name and the checkout and renders every file; writes nothing.
 * @throws {ScaffoldError} naming what is wrong: the name, an existing service or file, the checkout.
 */
export function planService(root: string, name: string): ServicePlan {
  const names = serviceNames(name);
  const manifestsPath = join(root, MANIFESTS_FILE);
  if (!existsSync(join(root, "services")) || !existsSync(manifestsPath))
    throw new ScaffoldError(
      ScaffoldErrorCode.NotACheckout,
      `${root} is not a Threadline checkout: it has no services/ or no ${MANIFESTS_FILE}`,
    );
  for (const taken of [`services/${name}`, `test/${name}`])
    if (existsSync(join(root, taken)))
      throw new ScaffoldError(
        ScaffoldErrorCode.Exists,
        `${taken}/ exists already: ${name} is ${taken.startsWith("services") ? "a service" : "a test folder"}; choose another name`,
      );
  const manifests = registerManifest(readFileSync(manifestsPath, "utf8"), names);
  return {
    service: name,
    root,
    create: serviceFiles(names),
    update: [{ path: MANIFESTS_FILE, text: manifests }],
  };
}

/** Writes a plan; on a failure removes the files and folders this call created, then rethrows. */
export function writeService(plan: ServicePlan): void {
  const created: string[] = [];
  const original = new Map<string, string>();
  try {
    for (const file of plan.create) {
      const path = join(plan.root, file.path);
      // The top-most folder this run creates, so a rollback removes exactly that.
      const madeDir = mkdirSync(dirname(path), { recursive: true });
      if (madeDir) created.push(madeDir);
      writeFileSync(path, file.text, { flag: "wx" }); // never overwrite
      created.push(path);
    }
    for (const file of plan.update) {
      const path = join(plan.root, file.path);
      original.set(path, readFileSync(path, "utf8"));
      writeFileSync(path, file.text);
    }
  } catch (err) {
    for (const [path, text] of original) writeFileSync(path, text);
    for (const path of created.reverse()) rmSync(path, { recursive: true, force: true });
    throw err;
  }
}
