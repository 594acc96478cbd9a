// Whole-network permutation: the CUDA version against the reference (exact bytes), and the
// inverse restores the input. Skips (exit 77) without a GPU.
#include "permute_tensors_util.h"

using namespace lady_test;

int main() {
    int32_t gpus = 0;
    if (lady_cuda_device_count(&gpus) != LADY_OK || gpus == 0) {
        std::printf("SKIPPED permute_tensors_cuda_test: %s\n", lady_last_error());
        return LADY_SKIP_CODE;
    }
    for (uint64_t seed = 1; seed <= 30; ++seed) {
        std::mt19937_64 rng(seed);
        Batch2 ref = random_batch2(1 + (int)(rng() % 8), rng, 700);
        Batch2 gpu = ref, original = ref;
        auto ra = ref.addresses(), ga = gpu.addresses();
        const int64_t np = (int64_t)ref.perms.size();
        if (lady_permute_tensors_ref(ref.count(), ra.data(), ref.dims.data(), ref.perm_offsets.data(),
                                     ref.perms.data(), np))
            return fail("reference", seed, ref.count());
        if (lady_permute_tensors_cuda(gpu.count(), ga.data(), gpu.dims.data(), gpu.perm_offsets.data(),
                                      gpu.perms.data(), np))
            return fail("cuda", seed, gpu.count());
        if (!gpu.same_data(ref)) return fail("cuda differs from reference", seed, gpu.count());
        Batch2 inv = original.inverse();
        inv.data = gpu.data;
        auto ia = inv.addresses();
        if (lady_permute_tensors_cuda(inv.count(), ia.data(), inv.dims.data(), inv.perm_offsets.data(),
                                      inv.perms.data(), np) || !inv.same_data(original))
            return fail("cuda inverse does not restore", seed, inv.count());
    }
    std::printf("permute_tensors_cuda_test: cuda == reference on 30 random batches, inverse restores\n");
    return 0;
}
