// CUDA ceilings when the library is built without CUDA: none (the CUDA versions are not run).
#include "bench.h"

namespace bench {
double cuda_host_roundtrip_gbs(size_t, int) { return 0; }
double cuda_device_memcpy_gbs(size_t, int) { return 0; }
double cuda_fma_peak_gflops(int) { return 0; }
}  // namespace bench
