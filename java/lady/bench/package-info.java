/**
 * End-to-end benchmarks behind {@code lady bench}: each timing beside a baseline measured in the same run
 * (libtorch, memcpy).
 *
 * <p>May import (Lady packages): checkpoint, data, kernels, model, permutation, progress, resync, tensor,
 * torch, train, util.
 */
package lady.bench;
