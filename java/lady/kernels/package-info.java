/**
 * The one gateway to Lady's native kernels (batched permutation, similarity, ranking, assignment, host
 * memory): validation in Java first, native statuses turned into {@link lady.LadyException}s; reference, CPU
 * and CUDA backends.
 *
 * <p>May import (Lady packages): none.
 */
package lady.kernels;
