/**
 * A nats-server authorization for running a service as the least-privilege user its access file
 * derives from its manifest (`threadline streams permissions <service>`), next to an admin user for the test's own setup.
 * Passwords reach nats-server through its environment, as in production; nats-server parses a
 * variable's value as config syntax, so each is a quoted string.
 */
import { randomBytes } from "node:crypto";
import { manifestAccess, type ServiceManifest } from "../../streams/src/manifest.js";
import {
  explainPermissions,
  permissionsOf,
  renderAuthorization,
  renderUserConfig,
} from "../../streams/src/permissions.js";
import { platformDeclarations } from "../../tools/manifests.js";

export interface LeastPrivilege {
  /** `extraConfig` for the test server. */
  readonly authorization: string;
  readonly admin: { readonly user: string; readonly pass: string };
  /** The service's user (its name) and password. */
  readonly service: { readonly user: string; readonly pass: string };
}

export function leastPrivilege(manifest: ServiceManifest): LeastPrivilege {
  const access = manifestAccess(manifest);
  const grants = explainPermissions(access, platformDeclarations());
  const [adminPassword, servicePassword] = [randomBytes(12).toString("hex"), randomBytes(12).toString("hex")];
  const serviceVar = `${access.service.toUpperCase().replaceAll("-", "_")}_NATS_PASSWORD`;
  process.env["THREADLINE_TEST_ADMIN_PASSWORD"] = JSON.stringify(adminPassword);
  process.env[serviceVar] = JSON.stringify(servicePassword);
  return {
    authorization: renderAuthorization([
      `{ user: "admin", password: $THREADLINE_TEST_ADMIN_PASSWORD }`,
      renderUserConfig(permissionsOf(grants), { user: access.service, explain: grants }),
    ]),
    admin: { user: "admin", pass: adminPassword },
    service: { user: access.service, pass: servicePassword },
  };
}
