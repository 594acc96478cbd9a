// Helpers of the resync kernel tests (similarity, ranking, assignment): a backend table so that one
// check runs for CPU and CUDA against the reference, random matrices, near-permutation problems.
#ifndef LADY_RESYNC_TEST_UTIL_H
#define LADY_RESYNC_TEST_UTIL_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "lady.h"

#define LADY_SKIP_CODE 77

namespace resync_test {

// Same value as lady.kernels.Tolerances.F32_MAX_REL_ERR: |a - b| <= tol * max(1, |b|).
constexpr double kF32MaxRelErr = 1e-5;
// Objectives of two optimal assignments: equal up to float summation, relative to n.
constexpr double kObjectiveRelTol = 1e-9;
// The CUDA auction is exact on the matrix quantized to L levels: its objective may be below the
// optimum by n * range / L (see assign_cuda.cu); tests allow that bound.
constexpr double kAuctionLevelsRange = 4294967296.0;  // 2^32 = L * (n + 1)

struct Backend {
    const char* name;
    int32_t (*cosine)(int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t);
    int32_t (*normalize)(int64_t, int64_t, int64_t, int64_t, int32_t);
    int32_t (*argmax)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
    int32_t (*topk)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
    int32_t (*sort)(int64_t, int64_t, int64_t);
    int32_t (*assign)(int64_t, int64_t, int64_t);
};

inline Backend reference() {
    return {"reference", lady_cosine_similarity_ref, lady_normalize_rows_ref, lady_argmax_top2_ref, lady_topk_ref,
            lady_sort_desc_ref, lady_assign_ref};
}
inline Backend cpu() {
    return {"cpu", lady_cosine_similarity_cpu, lady_normalize_rows_cpu, lady_argmax_top2_cpu, lady_topk_cpu,
            lady_sort_desc_cpu, lady_assign_cpu};
}
inline Backend cuda() {
    return {"cuda", lady_cosine_similarity_cuda, lady_normalize_rows_cuda, lady_argmax_top2_cuda, lady_topk_cuda,
            lady_sort_desc_cuda, lady_assign_cuda};
}

template <class T>
inline int64_t addr(std::vector<T>& v) {
    return (int64_t)(intptr_t)v.data();
}

inline std::vector<float> random_matrix(int64_t rows, int64_t cols, std::mt19937_64& rng) {
    std::normal_distribution<float> g(0.f, 1.f);
    std::vector<float> x((size_t)(rows * cols));
    for (auto& v : x) v = g(rng);
    return x;
}

// Values from a small set, so that ties are frequent.
inline std::vector<float> tied_matrix(int64_t rows, int64_t cols, std::mt19937_64& rng) {
    std::uniform_int_distribution<int> level(-3, 3);
    std::vector<float> x((size_t)(rows * cols));
    for (auto& v : x) v = 0.25f * (float)level(rng);
    return x;
}

// A resync-like similarity: cosine of rows and a permuted noisy copy (noise relative to the rows).
inline std::vector<float> near_permutation(int64_t n, int64_t d, float noise, std::mt19937_64& rng,
                                           std::vector<int64_t>* perm_out = nullptr) {
    std::vector<float> a = random_matrix(n, d, rng), b((size_t)(n * d)), s((size_t)(n * n));
    std::vector<int64_t> p((size_t)n);
    std::iota(p.begin(), p.end(), 0);
    std::shuffle(p.begin(), p.end(), rng);
    std::normal_distribution<float> g(0.f, noise);
    for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k < d; ++k) b[(size_t)(j * d + k)] = a[(size_t)(p[(size_t)j] * d + k)] + g(rng);
    lady_cosine_similarity_cpu(addr(a), addr(b), n, n, d, 0, addr(s));
    if (perm_out) *perm_out = p;
    return s;
}

inline bool close(double a, double b, double tol) { return std::fabs(a - b) <= tol * std::fmax(1.0, std::fabs(b)); }

inline double objective(const std::vector<float>& s, const std::vector<int32_t>& p, int64_t n) {
    double t = 0;
    for (int64_t i = 0; i < n; ++i) t += s[(size_t)(i * n + p[(size_t)i])];
    return t;
}

inline bool is_permutation(const std::vector<int32_t>& p) {
    std::vector<char> seen(p.size(), 0);
    for (int32_t v : p) {
        if (v < 0 || (size_t)v >= p.size() || seen[(size_t)v]) return false;
        seen[(size_t)v] = 1;
    }
    return true;
}

inline int fail(const char* backend, const char* what, uint64_t seed, int64_t n, int64_t m = -1) {
    std::fprintf(stderr, "FAILED [%s]: %s (seed %llu, n %lld, m %lld): %s\n", backend, what, (unsigned long long)seed,
                 (long long)n, (long long)m, lady_last_error());
    return 1;
}

inline bool gpu_available() {
    int32_t gpus = 0;
    return lady_cuda_device_count(&gpus) == LADY_OK && gpus > 0;
}

}  // namespace resync_test

#endif
