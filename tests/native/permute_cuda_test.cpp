// CUDA batched permutation against the reference (exact bytes). Skips (exit 77) without a GPU.
#include "test_util.h"

using namespace lady_test;

int main() {
    int32_t gpus = 0;
    if (lady_cuda_device_count(&gpus) != LADY_OK || gpus == 0) {
        std::printf("SKIPPED permute_cuda_test: %s\n", lady_last_error());
        return LADY_SKIP_CODE;
    }
    for (uint64_t seed = 1; seed <= 30; ++seed) {
        std::mt19937_64 rng(seed);
        const int64_t n = (int64_t)(1 + rng() % 700);
        Batch ref = random_batch(n, 1 + (int)(rng() % 6), rng);
        Batch gpu = ref;
        auto p = random_perm(n, rng);
        auto ra = ref.addresses(), ga = gpu.addresses();
        if (lady_permute_ref((int32_t)ra.size(), ra.data(), ref.outer.data(), ref.row_bytes.data(), p.data(), n))
            return fail("reference", seed, n);
        if (lady_permute_cuda((int32_t)ga.size(), ga.data(), gpu.outer.data(), gpu.row_bytes.data(), p.data(), n))
            return fail("cuda", seed, n);
        if (!same_bytes(ref, gpu)) return fail("cuda differs from reference", seed, n);
    }
    std::printf("permute_cuda_test: cuda == reference on 30 random batches\n");
    return 0;
}
