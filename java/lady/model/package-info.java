/**
 * The networks Lady knows: the families (VGG, ResNet, MobileNetV3, ViT, DeepLabV3, DenseNet, the small nets,
 * the Llama family) as builders of a {@link lady.graph.Graph}, the recognition of a checkpoint's
 * architecture, the one libtorch interpreter of a graph, and the function check of a permuted model.
 *
 * <p>May import (Lady packages): checkpoint, graph, kernels, onnx, permutation, tensor, torch, util.
 */
package lady.model;
