import onnxProto from 'onnx-proto'
import protobuf from 'protobufjs/minimal.js'

/**
 * The ONNX protobuf definition (`onnx-proto`: protobufjs static code generated from onnx.proto, IR version 8).
 * Import it from here so the dependency is named in one place.
 */
export const onnx = onnxProto.onnx

/** Namespaced protobuf types. */
export type { onnx as OnnxTypes } from 'onnx-proto'

/** ONNX TensorProto.DataType values the runtime reads. */
export const DataType = Object.freeze({ FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 })

/** ONNX AttributeProto.AttributeType values the runtime reads. */
export const AttributeType = Object.freeze({ FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 })

/**
 * The protobuf wire reader `onnx-proto` decodes with, for walking model bytes before they are decoded (see
 * `assertModelWithinBounds`).
 */
export const ProtoReader = protobuf.Reader
