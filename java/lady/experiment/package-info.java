/**
 * The paper's experiments: Table 1, the ranking figures, figure 3's correlation files and the plots;
 * configuration in, records and files out.
 *
 * <p>May import (Lady packages): attack, canon, checkpoint, data, io, kernels, model, onnx, paper,
 * permutation, progress, report, resync, train, util.
 */
package lady.experiment;
