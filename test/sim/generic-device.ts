/**
 * The generic device the bridge is tested against: every OPC UA built-in type, a vendor
 * enumeration (EnumValues) and one by EnumStrings, a structure, arrays, standard subtypes, an
 * abstract BaseDataType, a node that cannot be read, AnalogItems with units and ranges, two
 * alarms, and no PackML — a press whose server was written by someone else.
 */
import type { DeviceConfigInput, PlantConfigInput } from "../../tools/sim/plant/config.js";

export const PRESS: DeviceConfigInput = {
  id: "Press7",
  variables: [
    { name: "Running", dataType: "Boolean", folder: "Status", value: false },
    {
      name: "Status",
      dataType: "Enumeration",
      folder: "Status",
      enumerationName: "PressStatus",
      enumeration: [
        { value: 0, name: "Off" },
        { value: 1, name: "Running" },
        { value: 2, name: "Fault" },
        { value: 3, name: "Setup" },
      ],
      value: 0,
    },
    {
      name: "Mode",
      dataType: "Enumeration",
      folder: "Status",
      enumerationName: "PressMode",
      enumeration: ["Auto", "Manual"],
      value: 1,
    },
    { name: "OrderNo", dataType: "String", folder: "Job", value: "WH/MO/00070" },
    { name: "Lot", dataType: "String", folder: "Job", value: "LOT-70A" },
    { name: "GoodParts", dataType: "UInt64", folder: "Counters", value: "18446744073709551000" },
    { name: "ScrapParts", dataType: "Int64", folder: "Counters", value: "9007199254740993" },
    { name: "Temperature", dataType: "Double", unit: "Cel", range: [0, 250], value: 182.25 },
    { name: "Pressure", dataType: "Float", unit: "bar", range: [0, 400], value: 210.5 },
    { name: "Flag", dataType: "Boolean", value: true },
    { name: "SmallSigned", dataType: "SByte", value: -128 },
    { name: "SmallUnsigned", dataType: "Byte", value: 255 },
    { name: "ShortSigned", dataType: "Int16", value: -32768 },
    { name: "ShortUnsigned", dataType: "UInt16", value: 65535 },
    { name: "WordSigned", dataType: "Int32", value: -2147483648 },
    { name: "WordUnsigned", dataType: "UInt32", value: 4294967295 },
    { name: "LongSigned", dataType: "Int64", value: "-9223372036854775808" },
    { name: "LongUnsigned", dataType: "UInt64", value: "18446744073709551615" },
    { name: "Recipe", dataType: "String", value: "Rohling-ß-42" },
    { name: "Operator", dataType: "LocalizedText", value: { text: "Équipe B", locale: "fr-FR" } },
    { name: "BatchStart", dataType: "DateTime", value: { at: "2026-11-30T07:59:58.123Z", nanos: 456_700 } },
    { name: "CycleTime", dataType: "Duration", value: 1234.5 },
    { name: "Strokes", dataType: "Counter", value: 77 },
    { name: "Anything", dataType: "BaseDataType", valueType: "Int64", value: "-42" },
    { name: "Zones", dataType: "Double", arrayLength: 3, value: [180.5, 181, 179.25] },
    { name: "Serial", dataType: "Guid", value: "72962B91-FA75-4AE6-8D28-B404DC7DAF63" },
    { name: "Health", dataType: "StatusCode", value: "UncertainLastUsableValue" },
    { name: "Program", dataType: "QualifiedName", value: "Stamp" },
    { name: "Source", dataType: "NodeId", value: "ns=2;i=1001" },
    { name: "Manifest", dataType: "XmlElement", value: "<m v='1'/>" },
    { name: "Limits", dataType: "Structure", value: { low: 10, high: 20 } },
    { name: "Snapshot", dataType: "ByteString", value: "PNG" },
    { name: "Secret", dataType: "Double", readable: false, value: 1 },
  ],
  alarms: [
    { name: "OverTemperature", severity: 800, message: "Ram temperature high" },
    { name: "DoorOpen", severity: 300, message: "Guard door open" },
  ],
};

/** A plant of the press alone. */
export const DEVICE_PLANT: PlantConfigInput = { seed: 1, devices: [PRESS] };
