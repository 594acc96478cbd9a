// CUDA auction assignment: always a permutation, objective equal to the reference's within the
// documented quantization bound. Skips (exit 77) without a GPU.
#include "assign_checks.h"

int main() {
    if (!resync_test::gpu_available()) {
        std::printf("SKIPPED assign_cuda_test: %s\n", lady_last_error());
        return LADY_SKIP_CODE;
    }
    if (int rc = resync_test::check_assign(resync_test::cuda(), 30)) return rc;
    std::printf("assign_cuda_test: cuda auction optimal within the quantization bound on 93 matrices\n");
    return 0;
}
