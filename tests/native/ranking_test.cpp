// CPU ranking (argmax + second best, top-k, canonical sort) against the reference, exactly.
#include "ranking_checks.h"

int main() {
    if (int rc = resync_test::check_ranking(resync_test::cpu(), 60)) return rc;
    std::printf("ranking_test: cpu == reference on 60 random matrices (ties, -0.0), NaN refused\n");
    return 0;
}
