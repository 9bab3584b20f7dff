/** Where the package's own files live, whether running from source (tsc output in dist/) or installed. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "contracts", "schemas"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the Threadline package root above ${start}`);
    dir = parent;
  }
}

/** The repository / package root (the folder holding package.json and contracts/schemas). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
/** The folder of the canonical event schemas: `<domain>/<Event>.v<major>.avsc`. */
export const SCHEMAS_DIR = join(PACKAGE_ROOT, "contracts", "schemas");
