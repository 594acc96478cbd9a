/**
 * ONNX models: {@link lady.onnx.Onnx} reads a {@code .onnx} file into an immutable view
 * ({@link lady.onnx.OnnxModel}: initializers, nodes with typed attributes, graph inputs and outputs,
 * value_info, opsets, the Identity aliases through which exporters share equal initializers), exposes
 * the initializers as a {@link lady.checkpoint.StateDict} and writes the model back with initializers
 * replaced, everything else untouched; {@link lady.onnx.OrtRunner} runs models with ONNX Runtime. The
 * schema classes ({@code lady.onnx.proto.Onnx}) are generated at build time from {@code proto/onnx.proto}.
 */
package lady.onnx;
