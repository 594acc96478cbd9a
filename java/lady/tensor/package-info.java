/**
 * {@link lady.tensor.HostTensor}: a dtype, a shape and native host memory (a copy-on-write mapping of a
 * checkpoint, or a buffer of the native library), so that reading, permuting and resync need no libtorch.
 *
 * <p>May import (Lady packages): kernels, util.
 */
package lady.tensor;
