/**
 * Re-synchronization with the reference model (method.md section 4): per group, in topological order,
 * similarity from the evidence, matching (argmax or exact assignment), application to the suspect;
 * confidence, integrity check and the report; matching by activations; figure 3's output correlation.
 *
 * <p>May import (Lady packages): checkpoint, kernels, model, paper, permutation, progress, tensor, torch,
 * util.
 */
package lady.resync;
