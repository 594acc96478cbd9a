package lady.onnx;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import lady.LadyException;
import lady.graph.ChannelSpaces;
import lady.graph.Graph;
import lady.graph.Op;
import lady.permutation.PermutationSpec;
import lady.permutation.SpecValidator;

/**
 * An ONNX model's main graph imported into Lady's graph description ({@link Graph}), so that its
 * permutation spec comes from the same channel-space analysis as every built-in family
 * ({@link ChannelSpaces}); nothing here decides a group. The imported graph describes channels only:
 * ONNX models run in ONNX Runtime ({@link OrtRunner}), never through Lady's libtorch interpreter.
 *
 * <p><b>Names.</b> Nodes are named after the ONNX nodes (their output's name when they have none), so
 * groups are named after their producer node ("/features/features.0/features.0.0/Conv"); parameters are the
 * tensors of {@link OnnxModel#tensors()}: the initializer names (PyTorch's state-dict names in an export with
 * {@code training=PRESERVE, do_constant_folding=False}, "onnx::Conv_497" in a folded one), one tensor per
 * use of a shared initializer.
 *
 * <p><b>What is followed.</b> Every value carries its shape (inferred from the graph inputs, free dimensions
 * set as {@link OrtRunner.Options#DEFAULT} sets them, with small integer computations such as
 * Shape/Gather/Concat/Equal/Where folded: PyTorch's {@code expand(-1, ...)}) and which of its axes holds the
 * channels. Each ONNX node becomes the graph
 * operation with the same effect on channels:
 * <ul>
 *   <li>Conv (groups, strides, pads, dilations; depthwise and grouped convs as {@link ChannelSpaces} rules
 *       them) and ConvTranspose with one group: {@link Op#CONV}; Gemm with alpha = beta = 1, either transB
 *       ({@code transB = 0} keeps the weight [in, out]: a LINEAR whose weight is stored transposed), MatMul
 *       with a stored weight on either side (and the Add of a bias that follows it alone):
 *       {@link Op#LINEAR}; a MatMul or Gemm whose weight is computed, or of two activations (attention
 *       scores), is opaque;</li>
 *   <li>BatchNormalization, LayerNormalization over the channel axis: the norms; InstanceNormalization,
 *       PRelu, and Mul, Add, Sub, Div with a stored per-channel constant ([C], [C, 1, 1], [1, S, D]): a
 *       {@link Op#CHANNELWISE} node whose vectors follow the channels;</li>
 *   <li>Relu, HardSwish, HardSigmoid, Sigmoid, Tanh, Gelu, Clip (ReLU6): activations; every other element-wise
 *       function (Erf, Div/Add/Mul by a scalar: the Erf form of GELU), Softmax, Dropout, Identity, Cast,
 *       Transpose, Squeeze/Unsqueeze, Pad and Resize of other axes, pools, Reduce* over other axes (kept
 *       dims or not), Slice/Gather/Split of other axes: the layout is kept wherever the channel axis moves;</li>
 *   <li>Add, Sub, Mul, Div, Max, Min, Sum, Mean, Where of activations with their channels on the same axis
 *       (broadcasting as ONNX does): the inputs are tied (residual streams, squeeze-excitation); an input
 *       with one entry on that axis (a spatial attention map, a scalar) is broadcast and ties nothing;</li>
 *   <li>Concat along the channel axis: spaces at offsets; along another axis: tied (a class token);</li>
 *   <li>a Slice of the channels with step 1, a Split of the channels ({@code torch.chunk}): {@link Op#SLICE_CHANNELS}
 *       (the spaces cut at the run's bounds);</li>
 *   <li>Flatten and Reshape that merge the channel axis with the axes after it ({@code N x C*H*W}): the
 *       channels own blocks; Reshape that only regroups other axes keeps the layout;</li>
 *   <li>a symmetric reduction over the channel axis (ReduceMean, ReduceMax, ...) and Shape give values that
 *       do not depend on the order of the channels;</li>
 *   <li>multi-head attention built from MatMul, Reshape, Transpose, Slice or Split and Softmax (PyTorch's export
 *       of {@code nn.MultiheadAttention}, attention written by hand): proved block by block ({@link
 *       OnnxAttention}: every projection channel followed through the reshapes to the two products) and
 *       written as one {@link Op#ATTENTION_GQA} node, whose heads and the dimensions inside them are groups (a
 *       rotary embedding's rotated dimensions stay);</li>
 *   <li>anything else, and a known operator in a form it does not follow (a Reshape that splits the
 *       channels into heads outside an attention Lady can prove, a strided Slice of the channels, a Gemm with alpha 2,
 *       an operator of another domain), is an {@link Op#OPAQUE} node: everything it touches stays in place, with
 *       a note naming the node. Attention Lady cannot prove (a bias per head, a KV cache written out) keeps its
 *       residual stream and MLP hidden units as groups; its projections stay in place.</li>
 * </ul>
 * Initializers no imported node moves (shape constants, the weights of nodes that only compute shapes) are
 * fixed in the spec.
 */
public final class OnnxGraph {
    private final OnnxModel model;
    private final Graph graph;

    private OnnxGraph(OnnxModel model, Graph graph) {
        this.model = model;
        this.graph = graph;
    }

    /** Imports the main graph of {@code model}. */
    public static OnnxGraph of(OnnxModel model) {
        return new OnnxGraph(model, OnnxImporter.importGraph(model));
    }

    /** The spec of the ONNX model in {@code onnx} for a checkpoint whose tensors have the given shapes. */
    public static PermutationSpec spec(Path onnx, Map<String, long[]> shapes) {
        return of(Onnx.read(onnx)).spec(shapes);
    }

    public OnnxModel model() {
        return model;
    }

    /** The imported graph. */
    public Graph graph() {
        return graph;
    }

    /** The architecture name of an imported graph: "onnx:" and the graph's name ("onnx" without one). */
    public static String architecture(OnnxModel model) {
        return model.graphName().isEmpty() ? "onnx" : "onnx:" + model.graphName();
    }

    /**
     * The permutation spec of the graph for a checkpoint with tensors of the given shapes (name to shape): the
     * model's own tensors ({@link OnnxModel#stateDict()}), or a PyTorch state dict of the same network whose
     * names are the graph's (an export with kept names). Every tensor the graph uses must be there with its
     * shape; the checkpoint's other tensors (num_batches_tracked, initializers that no node uses) are fixed.
     *
     * @throws LadyException INVALID_INPUT when the checkpoint lacks a tensor of the graph or has it in another
     *                       shape
     */
    public PermutationSpec spec(Map<String, long[]> shapes) {
        List<String> missing = new ArrayList<>();
        List<String> misshaped = new ArrayList<>();
        for (Map.Entry<String, long[]> e : graph.tensors().entrySet()) {
            long[] s = shapes.get(e.getKey());
            if (s == null) {
                missing.add(e.getKey());
            } else if (!Arrays.equals(s, e.getValue())) {
                misshaped.add(e.getKey() + " " + Arrays.toString(s) + " (the graph's: " + Arrays.toString(e.getValue()) + ")");
            }
        }
        if (!missing.isEmpty() || !misshaped.isEmpty()) {
            String what = !missing.isEmpty()
                    ? missing.size() + " tensor(s) of the graph are not in the checkpoint, e.g. "
                            + String.join(", ", missing.subList(0, Math.min(3, missing.size())))
                            + " (a folded export renames its initializers: match a checkpoint with an export made "
                            + "with training=TrainingMode.PRESERVE, do_constant_folding=False)"
                    : misshaped.size() + " tensor(s) have other shapes than in the graph, e.g. "
                            + String.join(", ", misshaped.subList(0, Math.min(2, misshaped.size())));
            throw LadyException.invalidInput("the checkpoint does not match the ONNX graph of " + model.path() + ": " + what);
        }
        PermutationSpec derived = ChannelSpaces.derive(graph);
        Set<String> fixed = new LinkedHashSet<>(derived.fixed());
        for (String name : shapes.keySet()) {
            if (!graph.tensors().containsKey(name)) {
                fixed.add(name);
            }
        }
        return SpecValidator.validate(new PermutationSpec(derived.architecture(), derived.groups(), fixed, derived.notes()),
                shapes);
    }
}
