/**
 * The {@code lady} command line (picocli): one thin command class per command that parses options, calls the
 * library and prints.
 *
 * <p>May import (Lady packages): attack, bench, canon, checkpoint, data, demo, experiment, io, kernels,
 * model, onnx, paper, permutation, progress, report, resync, tensor, torch, train, util, watermark.
 */
package lady.cli;
