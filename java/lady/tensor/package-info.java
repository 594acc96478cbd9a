/**
 * {@link lady.tensor.HostTensor}: a dtype, a shape and native host memory (a copy-on-write mapping of a
 * checkpoint, or a buffer of the native library), so that reading, permuting and resync need no libtorch.
 *
 * <p>Half precision values are converted to float32 by the native kernel behind {@code lady.kernels.Kernels}
 * (lady.h kernel 6), called directly: this package already imports {@code kernels} (host memory, gathers) and
 * {@code kernels} imports no Lady package but {@code LadyException}, so the call adds no cycle and needs no
 * interface installed from outside.
 *
 * <p>May import (Lady packages): kernels, util.
 */
package lady.tensor;
