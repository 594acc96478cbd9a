/**
 * ONNX models: reading and writing (weights replaced, graph untouched), ONNX Runtime for running them, and
 * the import of an ONNX graph into {@link lady.graph.Graph}.
 *
 * <p>May import (Lady packages): checkpoint, data, graph, io, permutation, tensor, torch, util.
 */
package lady.onnx;
