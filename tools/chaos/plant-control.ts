/**
 * The plant's operator panel, over OPC UA as any client would use the simulator: start and stop
 * machines, set their order and lot (its methods), and read its ground truth (the Plant.GroundTruth
 * and Plant.VirtualTimeMs nodes).
 */
import {
  AttributeIds,
  type ClientSession,
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
} from "node-opcua";
import { GROUND_TRUTH_NODE_ID, type MachineNodeIds, VIRTUAL_TIME_NODE_ID } from "../sim/plant/addressing.js";
import type { MachineGroundTruth } from "../sim/plant/model.js";

export interface PlantReading {
  /** Plant time, ms since the simulator started. */
  readonly now: number;
  readonly machines: Record<string, MachineGroundTruth>;
}

export class PlantControl {
  readonly #client: OPCUAClient;
  readonly #session: ClientSession;

  private constructor(client: OPCUAClient, session: ClientSession) {
    this.#client = client;
    this.#session = session;
  }

  static async connect(endpointUrl: string, pkiFolder: string): Promise<PlantControl> {
    const client = OPCUAClient.create({
      applicationName: "threadline-plant-control",
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { maxRetry: 3, initialDelay: 200, maxDelay: 1_000 },
      clientCertificateManager: new OPCUACertificateManager({
        rootFolder: pkiFolder,
        automaticallyAcceptUnknownCertificate: true,
        disableFileWatchers: true,
      }),
    });
    await client.connect(endpointUrl);
    return new PlantControl(client, await client.createSession());
  }

  /**
   * Calls a machine's method; resolves to false when the machine's state does not accept it
   * (BadInvalidState), throws on anything else.
   */
  async call(
    ids: MachineNodeIds,
    method: keyof MachineNodeIds["methods"],
    args: readonly string[] = [],
  ): Promise<boolean> {
    const result = await this.#session.call({
      objectId: ids.machine,
      methodId: ids.methods[method],
      inputArguments: args.map((value) => ({ dataType: DataType.String, value })),
    });
    if (result.statusCode === StatusCodes.Good) return true;
    if (result.statusCode === StatusCodes.BadInvalidState) return false;
    throw new Error(`${method} on ${ids.machine}: ${result.statusCode.toString()}`);
  }

  /** A machine's PackML state name. */
  async state(ids: MachineNodeIds): Promise<string> {
    const dv = await this.#session.read({ nodeId: ids.stateName, attributeId: AttributeIds.Value });
    return String(dv.value.value);
  }

  /** Stops a machine, whatever it is doing: Stop, or Reset to IDLE from STOPPED (which Stop is not valid in). */
  async stopMachine(ids: MachineNodeIds): Promise<void> {
    if (await this.call(ids, "Stop")) return;
    if ((await this.state(ids)) === "STOPPED" && (await this.call(ids, "Reset"))) return;
    // Acting states (STARTING, STOPPING…) refuse commands for a moment.
    await new Promise((r) => setTimeout(r, 300));
    await this.stopMachine(ids);
  }

  async groundTruth(): Promise<PlantReading> {
    const [truth, now] = await this.#session.read([
      { nodeId: GROUND_TRUTH_NODE_ID, attributeId: AttributeIds.Value },
      { nodeId: VIRTUAL_TIME_NODE_ID, attributeId: AttributeIds.Value },
    ]);
    return {
      now: Number(now?.value.value),
      machines: JSON.parse(String(truth?.value.value)) as Record<string, MachineGroundTruth>,
    };
  }

  async close(): Promise<void> {
    await this.#session.close().catch(() => undefined);
    await this.#client.disconnect().catch(() => undefined);
  }
}
