// The assignment checks, run by assign_test (CPU) and assign_cuda_test (CUDA): always a
// permutation, optimal (objective equal to the reference's), a case where argmax has duplicates
// and the assignment has not, and bad input refused.
#ifndef LADY_ASSIGN_CHECKS_H
#define LADY_ASSIGN_CHECKS_H

#include "resync_test_util.h"

namespace resync_test {

// Allowed objective gap of `be` below the optimum for matrix s (n x n): float summation noise, plus
// for the CUDA auction the quantization bound n * range / L.
inline double allowed_gap(const Backend& be, const std::vector<float>& s, int64_t n, double optimum) {
    double gap = kObjectiveRelTol * std::fmax(1.0, std::fabs(optimum)) * (double)n;
    if (be.assign == lady_assign_cuda) {
        float lo = s[0], hi = s[0];
        for (float v : s) {
            lo = std::fmin(lo, v);
            hi = std::fmax(hi, v);
        }
        const double levels = std::fmin(std::floor(kAuctionLevelsRange / (double)(n + 1)), 1073741824.0);
        gap += (double)n * ((double)hi - (double)lo) / levels;
    }
    return gap;
}

inline int check_assign_case(const Backend& be, const std::vector<float>& s, int64_t n, uint64_t seed,
                             const char* kind) {
    std::vector<int32_t> pr((size_t)n), pc((size_t)n, -1);
    std::vector<float> copy = s;
    if (lady_assign_ref(addr(copy), n, addr(pr))) return fail("reference", kind, seed, n);
    if (be.assign(addr(copy), n, addr(pc))) return fail(be.name, kind, seed, n);
    if (!is_permutation(pc)) return fail(be.name, "result is not a permutation", seed, n);
    if (!is_permutation(pr)) return fail("reference", "result is not a permutation", seed, n);
    const double or_ = objective(s, pr, n), oc = objective(s, pc, n);
    if (oc < or_ - allowed_gap(be, s, n, or_) || oc > or_ + kObjectiveRelTol * std::fmax(1.0, std::fabs(or_)) * n) {
        std::fprintf(stderr, "%s objective %.9f vs reference %.9f\n", kind, oc, or_);
        return fail(be.name, "objective differs from the reference's", seed, n);
    }
    return 0;
}

inline int check_assign(const Backend& be, int seeds) {
    for (uint64_t seed = 1; seed <= (uint64_t)seeds; ++seed) {
        std::mt19937_64 rng(seed);
        const int64_t n = 1 + (int64_t)(rng() % 120);
        if (int rc = check_assign_case(be, random_matrix(n, n, rng), n, seed, "random dense")) return rc;
        if (int rc = check_assign_case(be, tied_matrix(n, n, rng), n, seed, "many ties")) return rc;
        if (int rc = check_assign_case(be, near_permutation(n, 16, 1.5f, rng), n, seed, "near permutation")) return rc;
    }
    // Larger near-permutation problems: the greedy start, row reduction and augmentation all work.
    for (uint64_t seed = 100; seed < 103; ++seed) {
        std::mt19937_64 rng(seed);
        if (int rc = check_assign_case(be, near_permutation(400, 64, 2.0f, rng), 400, seed, "near permutation 400"))
            return rc;
    }
    // Argmax gives duplicates, the assignment does not: rows 0 and 1 both prefer column 0.
    {
        std::vector<float> s = {0.9f, 0.8f, 0.1f,   //
                                0.95f, 0.2f, 0.3f,  //
                                0.1f, 0.3f, 0.7f};
        std::vector<int32_t> p(3);
        if (be.assign(addr(s), 3, addr(p)) || p != std::vector<int32_t>({1, 0, 2}))
            return fail(be.name, "duplicate argmax case: expected 1 0 2", 0, 3);
    }
    // Non-finite values refused, nothing else.
    {
        std::vector<float> s = {1.f, 2.f, 3.f, NAN};
        std::vector<int32_t> p(2);
        if (be.assign(addr(s), 2, addr(p)) != LADY_ERR_INVALID_ARGUMENT) return fail(be.name, "NaN accepted", 0, 2);
        s[3] = INFINITY;
        if (be.assign(addr(s), 2, addr(p)) != LADY_ERR_INVALID_ARGUMENT) return fail(be.name, "infinity accepted", 0, 2);
        if (be.assign(addr(s), -2, addr(p)) != LADY_ERR_INVALID_ARGUMENT) return fail(be.name, "negative n accepted", 0, -2);
    }
    return 0;
}

}  // namespace resync_test

#endif
