export { encodeOnnx, exportOnnx, OnnxGraph } from './onnx';
export type { OnnxAttribute, OnnxExportOptions, OnnxPreprocessing } from './onnx';
