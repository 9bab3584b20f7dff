/**
 * The plant simulator's generic devices, through a plain node-opcua client: their own namespace and
 * numeric node ids, every type as configured, a node that cannot be read, a node that goes away
 * (across a server restart) until restored, and the config's rules.
 */
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  AttributeIds,
  type ClientSession,
  DataType,
  OPCUACertificateManager,
  OPCUAClient,
  StatusCodes,
  VariableIds,
} from "node-opcua";
import { ConfigError } from "../../streams/src/errors.js";
import { parsePlantConfig } from "../../tools/sim/plant/config.js";
import { DEVICE_NAMESPACE_URI } from "../../tools/sim/plant/device.js";
import { type PlantSimulator, startPlantSimulator } from "../../tools/sim/plant/server.js";
import { until } from "../harness/wait.js";
import { DEVICE_PLANT } from "./generic-device.js";

const PKI = path.join(os.tmpdir(), "threadline-test-pki");

describe("plant simulator - generic devices", () => {
  let sim: PlantSimulator;
  let client: OPCUAClient;
  let session: ClientSession;
  before(async () => {
    sim = await startPlantSimulator({
      config: DEVICE_PLANT,
      autoRun: false,
      pkiFolder: path.join(PKI, "server"),
    });
    const certificateManager = new OPCUACertificateManager({
      rootFolder: path.join(PKI, "client"),
      automaticallyAcceptUnknownCertificate: true,
    });
    await certificateManager.initialize();
    client = OPCUAClient.create({
      endpointMustExist: false,
      clientCertificateManager: certificateManager,
      connectionStrategy: { maxRetry: -1, initialDelay: 100, maxDelay: 500 },
    });
    await client.connect(sim.endpointUrl);
    session = await client.createSession();
  });
  after(async () => {
    await session.close().catch(() => undefined);
    await client.disconnect();
    await sim.stop();
  });

  const read = (nodeId: string, attributeId = AttributeIds.Value) => session.read({ nodeId, attributeId });

  test("a device lives in its own namespace (index 2) with numeric node ids", async () => {
    const namespaces = (await read(`i=${VariableIds.Server_NamespaceArray}`)).value.value as string[];
    assert.equal(namespaces[2], DEVICE_NAMESPACE_URI);
    const d = sim.device("Press7");
    assert.equal(d.objectNodeId, "ns=2;i=100000");
    assert.match(d.nodeId("LongUnsigned"), /^ns=2;i=\d+$/);
    const name = await read(d.objectNodeId, AttributeIds.BrowseName);
    assert.equal((name.value.value as { name: string }).name, "Press7");
  });

  test("values are served with the type configured: 64-bit words, a vendor enumeration, an array", async () => {
    const d = sim.device("Press7");
    const u64 = await read(d.nodeId("LongUnsigned"));
    assert.equal(u64.value.dataType, DataType.UInt64);
    assert.deepEqual(u64.value.value, [0xffff_ffff, 0xffff_ffff]);
    const status = await read(d.nodeId("Status"));
    assert.deepEqual([status.value.dataType, status.value.value], [DataType.Int32, 0]);
    const enumType = await read(d.nodeId("Status"), AttributeIds.DataType);
    const typeName = await read(String(enumType.value.value), AttributeIds.BrowseName);
    assert.equal((typeName.value.value as { name: string }).name, "PressStatus");
    assert.deepEqual(
      Array.from((await read(d.nodeId("Zones"))).value.value as Float64Array),
      [180.5, 181, 179.25],
    );
    assert.equal((await read(d.nodeId("Secret"))).statusCode, StatusCodes.BadNotReadable);
    d.set("Recipe", "Tiefzug", new Date("2026-12-01T10:00:00Z"));
    const recipe = await read(d.nodeId("Recipe"));
    assert.deepEqual(
      [recipe.value.value, recipe.sourceTimestamp?.toISOString()],
      ["Tiefzug", "2026-12-01T10:00:00.000Z"],
    );
  });

  test("a removed node is unknown, also after a server restart, until it is restored with its value", async () => {
    const d = sim.device("Press7");
    d.remove("Temperature");
    assert.equal((await read(d.nodeId("Temperature"))).statusCode, StatusCodes.BadNodeIdUnknown);
    await sim.restartServer({ downMs: 100 });
    const after = await until("the session works after the restart", async () => {
      const dv = await read(d.nodeId("Temperature")).catch(() => undefined);
      return dv && dv.statusCode !== StatusCodes.BadSessionIdInvalid ? dv : undefined;
    });
    assert.equal(after.statusCode, StatusCodes.BadNodeIdUnknown);
    d.restore("Temperature");
    const back = await read(d.nodeId("Temperature"));
    assert.deepEqual([back.statusCode, back.value.value], [StatusCodes.Good, 182.25]);
  });

  test("config: a plant of devices only is valid; a plant of nothing, or an enumeration without members, is refused by key", () => {
    assert.equal(parsePlantConfig(DEVICE_PLANT).sites.length, 0);
    const keyOf = (input: unknown) => {
      try {
        parsePlantConfig(input);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.key;
      }
      assert.fail("accepted");
    };
    assert.equal(keyOf({ seed: 1 }), "sites");
    assert.equal(
      keyOf({ devices: [{ id: "d", variables: [{ name: "e", dataType: "Enumeration" }] }] }),
      "devices.0.variables.0.enumeration",
    );
  });
});
