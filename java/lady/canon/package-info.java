/**
 * Re-synchronization without the reference (method.md section 5): canonical neuron orders by basic ranking
 * (signed weight sums) and active ranking (a learned input), and the alignment of a suspect to a saved order.
 *
 * <p>May import (Lady packages): checkpoint, io, kernels, model, paper, permutation, progress, report,
 * resync, tensor, torch, util.
 */
package lady.canon;
