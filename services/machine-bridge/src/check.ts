/**
 * The mapping against live servers (`threadline bridge --config plant.yaml --check --live`): every
 * endpoint is connected to as the bridge would (security, credentials, PKI folder), and every
 * configured node checked — exists, readable, a data type its role can use, the one the mapping
 * expects — without subscribing or publishing anything.
 */
import { OPCUACertificateManager } from "node-opcua";
import { signalsOf } from "./bridge.js";
import type { BridgeConfig } from "./config.js";
import { reasonOf, withSession } from "./opcua/client.js";
import { labelOf, type NodeReport } from "./opcua/endpoint.js";
import { checkNodes } from "./opcua/nodes.js";

export interface EndpointCheck {
  readonly endpoint: string;
  readonly url: string;
  /** Why the endpoint could not be checked (unreachable, refused login …); null when it was. */
  readonly failure: string | null;
  readonly nodes: readonly NodeReport[];
}

export async function checkLive(
  config: BridgeConfig,
  env: Record<string, string | undefined> = process.env,
): Promise<EndpointCheck[]> {
  const certificateManager = new OPCUACertificateManager({
    rootFolder: config.pkiFolder,
    automaticallyAcceptUnknownCertificate: config.trustUnknownServerCertificates,
  });
  await certificateManager.initialize();
  const out: EndpointCheck[] = [];
  for (const endpoint of config.endpoints) {
    const signals = endpoint.machines.flatMap((m, i) => signalsOf(i, m));
    const password = endpoint.user ? env[endpoint.user.passwordEnv] : undefined;
    try {
      const checks = await withSession(endpoint, certificateManager, password, (session) =>
        checkNodes(
          session,
          signals.map((s) => ({
            nodeId: s.nodeId,
            role: s.role,
            expectedDataType: s.expectedDataType,
            ...(s.runningValues ? { runningValues: true } : {}),
          })),
        ),
      );
      out.push({
        endpoint: endpoint.id,
        url: endpoint.url,
        failure: null,
        nodes: signals.map((s, i) => {
          const c = checks[i];
          return {
            machine: s.machineName,
            signal: labelOf(s),
            nodeId: s.nodeId,
            status: c?.status ?? "Unchecked",
            detail: c?.detail ?? null,
            dataType: c?.dataType?.name ?? null,
            builtInType: c?.dataType?.builtIn ?? null,
            valueRank: c?.valueRank ?? null,
          };
        }),
      });
    } catch (err) {
      out.push({ endpoint: endpoint.id, url: endpoint.url, failure: reasonOf(err), nodes: [] });
    }
  }
  await certificateManager.dispose();
  return out;
}
