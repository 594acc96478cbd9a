// CPU similarity (normalize, cosine, centered cosine) against the double-precision reference.
#include "similarity_checks.h"

int main() {
    if (int rc = resync_test::check_similarity(resync_test::cpu(), 40)) return rc;
    std::printf("similarity_test: cpu == reference (within %g) on 40 random shapes, bad input refused\n",
                resync_test::kF32MaxRelErr);
    return 0;
}
