export { encodeOnnx, exportOnnx, OnnxGraph } from './onnx';
export type { OnnxAttribute, OnnxExportOptions, OnnxPreprocessing } from './onnx';
export { decodeSafetensors, encodeSafetensors, loadSafetensors, parseSafetensors, saveSafetensors, stateDictEntries } from './safetensors';
export type { SafetensorsOptions, SafetensorsTensor, StateDictEntry } from './safetensors';
export { compileInference } from './inference';
export type { CompiledInference, InferenceFunction, InferenceOptions } from './inference';
