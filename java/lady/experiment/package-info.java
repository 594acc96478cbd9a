/**
 * The paper's experiments: Table 1, the ranking figures, figure 3 (the output correlation of a layer's
 * neurons, {@code OutputCorrelation}, and its files) and the plots; configuration in, records and files out.
 *
 * <p>May import (Lady packages): attack, canon, checkpoint, data, io, kernels, model, onnx, paper,
 * permutation, progress, report, resync, tensor, torch, train, util.
 */
package lady.experiment;
