// CUDA similarity against the reference. Skips (exit 77) without a GPU.
#include "similarity_checks.h"

int main() {
    if (!resync_test::gpu_available()) {
        std::printf("SKIPPED similarity_cuda_test: %s\n", lady_last_error());
        return LADY_SKIP_CODE;
    }
    if (int rc = resync_test::check_similarity(resync_test::cuda(), 40)) return rc;
    std::printf("similarity_cuda_test: cuda == reference on 40 random shapes\n");
    return 0;
}
