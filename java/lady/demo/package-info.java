/**
 * {@code lady demo}: the paper's whole story on the built-in digits, with its HTML report and the cached
 * model.
 *
 * <p>May import (Lady packages): checkpoint, data, experiment, io, kernels, model, paper, permutation,
 * progress, report, resync, torch, train, util, watermark.
 */
package lady.demo;
