import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;
/** A decoded message as protobufjs returns it: every field present (defaults on the prototype). */
export type Decoded<T> = T extends Uint8Array ? T : T extends readonly (infer U)[] ? Decoded<U>[] : T extends object ? { -readonly [K in keyof T]-?: Field<NonNullable<T[K]>> } : T;
export type Field<V> = V extends Uint8Array ? V : V extends readonly unknown[] ? Decoded<V> : V extends object ? Decoded<V> | null : V;
/** Appends a hand-written (partial) message to a decoded repeated field. */
export const add = <T>(list: T[], item: object, at = list.length): void => { list.splice(at, 0, item as T); };
export type DecodedModel = Decoded<onnxProto.onnx.IModelProto>;
export const decodeModel = (bytes: Uint8Array): DecodedModel => onnx.ModelProto.decode(bytes) as unknown as DecodedModel;
export const encodeModel = (m: DecodedModel): Uint8Array => onnx.ModelProto.encode(m as onnxProto.onnx.IModelProto).finish();
