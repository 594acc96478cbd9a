// CUDA ranking against the reference, exactly. Skips (exit 77) without a GPU.
#include "ranking_checks.h"

int main() {
    if (!resync_test::gpu_available()) {
        std::printf("SKIPPED ranking_cuda_test: %s\n", lady_last_error());
        return LADY_SKIP_CODE;
    }
    if (int rc = resync_test::check_ranking(resync_test::cuda(), 60)) return rc;
    std::printf("ranking_cuda_test: cuda == reference on 60 random matrices\n");
    return 0;
}
