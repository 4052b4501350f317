// The ONNX protobuf wire format, checked before protobufjs decodes anything: protobufjs's
// generated decoder trusts wire types (reading a known field with the wrong one misparses what
// follows), so every field must have its schema's wire type, every nested message must end
// exactly where its length says, and a singular field may not repeat — so that this reader and
// onnxruntime's C++ protobuf see the same model.

import { proto, type onnx } from './onnx-format.js';

/**
 * Wire kinds of every ONNX message's fields (onnx.proto as compiled into onnx-proto, plus the
 * fields later ONNX releases added: overload, metadata_props, device configurations, opaque types): varint,
 * fixed 32/64-bit, length-delimited bytes/string, packable repeated scalars (packed or not), or
 * a nested message.
 */
type WireKind = 'varint' | 'i32' | 'i64' | 'len' | 'pvarint' | 'pi32' | 'pi64' | `msg:${string}`;
/**
 * Per message: its fields' kinds, which of them are repeated, and its oneof members. A singular
 * field given twice is refused (C++ protobuf merges repeated occurrences of a message field while
 * protobufjs keeps the last, so the two would read different models), and so are two members of
 * one oneof.
 */
interface WireMessage { fields: Record<number, WireKind>; repeated: readonly number[]; oneof?: readonly number[] }
const WIRE_SCHEMA: Record<string, WireMessage> = {
  ModelProto: {
    fields: { 1: 'varint', 8: 'msg:OperatorSetIdProto', 2: 'len', 3: 'len', 4: 'len', 5: 'varint', 6: 'len', 7: 'msg:GraphProto', 14: 'msg:StringStringEntryProto', 20: 'msg:TrainingInfoProto', 25: 'msg:FunctionProto', 26: 'msg:DeviceConfigurationProto' },
    repeated: [8, 14, 20, 25, 26],
  },
  OperatorSetIdProto: { fields: { 1: 'len', 2: 'varint' }, repeated: [] },
  StringStringEntryProto: { fields: { 1: 'len', 2: 'len' }, repeated: [] },
  TrainingInfoProto: { fields: { 1: 'msg:GraphProto', 2: 'msg:GraphProto', 3: 'msg:StringStringEntryProto', 4: 'msg:StringStringEntryProto' }, repeated: [3, 4] },
  FunctionProto: {
    fields: { 1: 'len', 4: 'len', 5: 'len', 6: 'len', 7: 'msg:NodeProto', 8: 'len', 9: 'msg:OperatorSetIdProto', 10: 'len', 11: 'msg:AttributeProto', 12: 'msg:ValueInfoProto', 13: 'len', 14: 'msg:StringStringEntryProto' },
    repeated: [4, 5, 6, 7, 9, 11, 12, 14],
  },
  GraphProto: {
    fields: { 1: 'msg:NodeProto', 2: 'len', 5: 'msg:TensorProto', 15: 'msg:SparseTensorProto', 10: 'len', 11: 'msg:ValueInfoProto', 12: 'msg:ValueInfoProto', 13: 'msg:ValueInfoProto', 14: 'msg:TensorAnnotation', 16: 'msg:StringStringEntryProto' },
    repeated: [1, 5, 15, 11, 12, 13, 14, 16],
  },
  TensorAnnotation: { fields: { 1: 'len', 2: 'msg:StringStringEntryProto' }, repeated: [2] },
  NodeProto: { fields: { 1: 'len', 2: 'len', 3: 'len', 4: 'len', 7: 'len', 8: 'len', 5: 'msg:AttributeProto', 6: 'len', 9: 'msg:StringStringEntryProto', 10: 'msg:NodeDeviceConfigurationProto' }, repeated: [1, 2, 5, 9, 10] },
  // device placement (ONNX 1.18): messages in C++ protobuf's eyes, so they must parse as messages here too
  DeviceConfigurationProto: { fields: { 1: 'len', 2: 'varint', 3: 'len' }, repeated: [3] },
  NodeDeviceConfigurationProto: { fields: { 1: 'len', 2: 'msg:ShardingSpecProto', 3: 'varint' }, repeated: [2] },
  ShardingSpecProto: { fields: { 1: 'len', 2: 'pvarint', 3: 'msg:IntIntListEntryProto', 4: 'msg:ShardedDimProto' }, repeated: [2, 3, 4] },
  IntIntListEntryProto: { fields: { 1: 'varint', 2: 'pvarint' }, repeated: [2] },
  ShardedDimProto: { fields: { 1: 'varint', 2: 'msg:SimpleShardedDimProto' }, repeated: [2] },
  SimpleShardedDimProto: { fields: { 1: 'varint', 2: 'len', 3: 'varint' }, repeated: [], oneof: [1, 2] },
  AttributeProto: {
    fields: {
      1: 'len', 21: 'len', 13: 'len', 20: 'varint', 2: 'i32', 3: 'varint', 4: 'len', 5: 'msg:TensorProto', 6: 'msg:GraphProto',
      22: 'msg:SparseTensorProto', 14: 'msg:TypeProto', 7: 'pi32', 8: 'pvarint', 9: 'len', 10: 'msg:TensorProto', 11: 'msg:GraphProto',
      23: 'msg:SparseTensorProto', 15: 'msg:TypeProto',
    },
    repeated: [7, 8, 9, 10, 11, 23, 15],
  },
  ValueInfoProto: { fields: { 1: 'len', 2: 'msg:TypeProto', 3: 'len', 4: 'msg:StringStringEntryProto' }, repeated: [4] },
  TypeProto: { fields: { 1: 'msg:TypeTensor', 4: 'msg:TypeSequence', 5: 'msg:TypeMap', 9: 'msg:TypeSequence', 8: 'msg:TypeTensor', 7: 'msg:TypeOpaque', 6: 'len' }, repeated: [], oneof: [1, 4, 5, 9, 8, 7] },
  TypeOpaque: { fields: { 1: 'len', 2: 'len' }, repeated: [] },
  TypeTensor: { fields: { 1: 'varint', 2: 'msg:TensorShapeProto' }, repeated: [] },
  TypeSequence: { fields: { 1: 'msg:TypeProto' }, repeated: [] },
  TypeMap: { fields: { 1: 'varint', 2: 'msg:TypeProto' }, repeated: [] },
  TensorShapeProto: { fields: { 1: 'msg:Dimension' }, repeated: [1] },
  Dimension: { fields: { 1: 'varint', 2: 'len', 3: 'len' }, repeated: [], oneof: [1, 2] },
  TensorProto: {
    fields: {
      1: 'pvarint', 2: 'varint', 3: 'msg:Segment', 4: 'pi32', 5: 'pvarint', 6: 'len', 7: 'pvarint', 8: 'len', 12: 'len', 9: 'len',
      13: 'msg:StringStringEntryProto', 14: 'varint', 10: 'pi64', 11: 'pvarint', 16: 'msg:StringStringEntryProto',
    },
    repeated: [1, 4, 5, 6, 7, 13, 10, 11, 16],
  },
  Segment: { fields: { 1: 'varint', 2: 'varint' }, repeated: [] },
  SparseTensorProto: { fields: { 1: 'msg:TensorProto', 2: 'msg:TensorProto', 3: 'pvarint' }, repeated: [3] },
};
const WIRE_NAMES: Record<string, string> = { varint: '0 (varint)', i32: '5 (32-bit)', i64: '1 (64-bit)', len: '2 (length-delimited)', pvarint: '0 or 2 (varints)', pi32: '5 or 2 (32-bit values)', pi64: '1 or 2 (64-bit values)' };
/** Subgraphs (attributes, training, functions) nest messages; real models stay far below this. */
const MAX_WIRE_DEPTH = 32;

export function checkWire(bytes: Uint8Array, fail: (p: string) => never): void {
  const bad = (problem: string, at: number): never => fail(`not a valid ONNX protobuf (${problem} at byte ${at})`);
  /** A varint of at most `maxBytes` bytes ending before `end`: [value (exact below 2^53), next position]. */
  const varint = (pos: number, end: number, maxBytes: number, what: string): [number, number] => {
    let value = 0, scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (pos + i >= end) return bad(`truncated ${what}`, pos);
      const b = bytes[pos + i]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return [value, pos + i + 1];
    }
    return bad(`${what} longer than ${maxBytes} bytes`, pos);
  };
  const walk = (pos: number, end: number, type: string, depth: number): void => {
    if (depth > MAX_WIRE_DEPTH) bad(`messages nested more than ${MAX_WIRE_DEPTH} deep`, pos);
    const schema = WIRE_SCHEMA[type]!;
    const seen = new Set<number>();
    let oneofSeen = -1;
    while (pos < end) {
      const start = pos;
      const [tag, afterTag] = varint(pos, end, 5, 'field tag');
      pos = afterTag;
      const field = Math.floor(tag / 8), wire = tag % 8;
      if (field === 0 || tag > 0xffffffff) bad(`${type}: invalid field number`, start);
      const kind = Object.hasOwn(schema.fields, field) ? schema.fields[field]! : null;
      if (kind !== null && !schema.repeated.includes(field)) {
        if (seen.has(field)) bad(`${type} field ${field} appears twice`, start);
        seen.add(field);
        if (schema.oneof?.includes(field)) {
          if (oneofSeen >= 0 && oneofSeen !== field) bad(`${type} fields ${oneofSeen} and ${field} are both set (one of them may be)`, start);
          oneofSeen = field;
        }
      }
      const expect = (ok: boolean): void => {
        if (!ok) bad(`${type} field ${field} has wire type ${wire}, expected ${WIRE_NAMES[kind!] ?? '2 (a message)'}`, start);
      };
      switch (wire) {
        case 0:
          expect(kind === null || kind === 'varint' || kind === 'pvarint');
          pos = varint(pos, end, 10, 'varint')[1];
          break;
        case 1:
          expect(kind === null || kind === 'i64' || kind === 'pi64');
          if (pos + 8 > end) bad(`truncated ${type} field ${field}`, start);
          pos += 8;
          break;
        case 5:
          expect(kind === null || kind === 'i32' || kind === 'pi32');
          if (pos + 4 > end) bad(`truncated ${type} field ${field}`, start);
          pos += 4;
          break;
        case 2: {
          expect(kind === null || kind === 'len' || kind.startsWith('p') || kind.startsWith('msg:'));
          const [length, contentStart] = varint(pos, end, 5, 'length');
          const contentEnd = contentStart + length;
          if (contentEnd > end) bad(`${type} field ${field} says ${length} bytes but ${end - contentStart} remain`, start);
          if (kind === 'pi32' && length % 4 !== 0) bad(`${type} field ${field}: packed 32-bit values in ${length} bytes`, start);
          if (kind === 'pi64' && length % 8 !== 0) bad(`${type} field ${field}: packed 64-bit values in ${length} bytes`, start);
          if (kind === 'pvarint') for (let p = contentStart; p < contentEnd;) p = varint(p, contentEnd, 10, 'packed varint')[1];
          if (kind?.startsWith('msg:')) walk(contentStart, contentEnd, kind.slice(4), depth + 1);
          pos = contentEnd;
          break;
        }
        default:
          bad(`${type} field ${field} has wire type ${wire}${wire === 3 || wire === 4 ? ' (a group, which ONNX does not use)' : ''}`, start);
      }
    }
  };
  walk(0, bytes.length, 'ModelProto', 0);
}

/** A ModelProto from bytes: the wire format checked (checkWire), then decoded; every failure goes to `fail`. */
export function decodeModelProto(bytes: Uint8Array, fail: (p: string) => never): onnx.ModelProto {
  checkWire(bytes, fail);
  try {
    return proto.ModelProto.decode(bytes);
  } catch (e) {
    // protobufjs throws RangeError (truncated), Error (bad wire type), or overflows the stack on deep nesting
    return fail(`not a valid ONNX protobuf (${e instanceof Error ? e.message : String(e)})`);
  }
}
