// The float32 CPU cosine kernel (lady_cosine_similarity_cpu) against a plain copy of the order of operations it
// promises, bit for bit: per row, mean and sum of squares in double in the order of k, inv = lady_inv_norm; per
// element u = (x - mean) * inv in float; per element of S, depth blocks of 256 in order, each a chain over k
// starting from zero (fused multiply-adds on the AVX-512 and AVX2 paths, multiply then add on the portable one),
// the first block's value stored and every next block's value added to it. The dense path and the prefilter's exact
// margins agree bit for bit because of it (CopyMargins too), so any change of the packing, blocking or threading that
// moves one bit fails here. Awkward sizes: partial micro-tiles (12 x 32, 6 x 16, 4 x 8), more rows than a row block
// (240) per thread, more columns than a column block (2048), depths 1, < 256, 256, 257 and several blocks; one and
// two threads; centered and not; one buffer for both sides; a zero row, a constant row and rows of extreme scales. The instruction set is
// chosen once per process: ctest runs this under each cap (LADY_MAX_CPU_ISA).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "lady.h"
#include "resync_common.h"

namespace {

constexpr int64_t kDepthBlock = 256;  // the kernel's depth block (similarity_cpu.cpp kKc)

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// Whether the kernel this process runs uses fused multiply-adds (AVX-512F or AVX2 + FMA, under the cap).
bool fused() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const int32_t cap = lady_max_cpu_isa();
    if (cap <= 0 && __builtin_cpu_supports("avx512f")) return true;
    if (cap <= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return true;
#endif
    return false;
}

std::vector<float> normalized(const std::vector<float>& x, int64_t rows, int64_t d, bool centered) {
    std::vector<float> u(x.size());
    for (int64_t i = 0; i < rows; ++i) {
        const float* r = &x[(size_t)(i * d)];
        double mean = 0.0;
        if (centered) {
            for (int64_t k = 0; k < d; ++k) mean += r[k];
            mean /= (double)d;
        }
        double ss = 0.0;
        for (int64_t k = 0; k < d; ++k) {
            const double t = r[k] - mean;
            const double sq = t * t;
            ss = ss + sq;
        }
        const float fm = (float)mean, inv = (float)lady_inv_norm(ss);
        for (int64_t k = 0; k < d; ++k) u[(size_t)(i * d + k)] = (r[k] - fm) * inv;
    }
    return u;
}

float element(const float* ua, const float* ub, int64_t d, bool fma) {
    float c = 0.f;
    for (int64_t k0 = 0; k0 < d; k0 += kDepthBlock) {
        const int64_t k1 = std::min(d, k0 + kDepthBlock);
        float s = 0.f;
        for (int64_t k = k0; k < k1; ++k) {
            if (fma) {
                s = std::fma(ua[k], ub[k], s);
            } else {
                volatile float p = ua[k] * ub[k];  // rounded on its own, never contracted
                s = s + p;
            }
        }
        c = k0 == 0 ? s : c + s;
    }
    return c;
}

// same: S = A A^T through one buffer (the kernel then computes the row statistics once).
int check(int64_t n, int64_t m, int64_t d, bool centered, int32_t threads, uint64_t seed, bool fma, bool same = false) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> val(0.4f, 1.f);
    std::vector<float> a((size_t)(n * d)), b((size_t)(m * d));
    for (auto& v : a) v = val(rng);
    for (auto& v : b) v = val(rng);
    if (n > 3) {
        std::fill(a.begin() + d, a.begin() + 2 * d, 0.f);       // a zero row
        std::fill(a.begin() + 2 * d, a.begin() + 3 * d, 2.5f);   // a constant row (zero once centered)
        for (int64_t k = 0; k < d; ++k) a[(size_t)(3 * d + k)] *= 1e-20f;
    }
    if (m > 2)
        for (int64_t k = 0; k < d; ++k) b[(size_t)(2 * d + k)] *= 1e20f;
    if (same) m = n, b = a;
    lady_set_num_threads(threads);
    std::vector<float> out((size_t)(n * m), -7.f);
    const float* bp = same ? a.data() : b.data();
    if (lady_cosine_similarity_cpu((int64_t)(intptr_t)a.data(), (int64_t)(intptr_t)bp, n, m, d, centered ? 1 : 0,
                                   (int64_t)(intptr_t)out.data()) != LADY_OK)
        return std::fprintf(stderr, "FAILED: call (%s)\n", lady_last_error()), 1;
    const std::vector<float> ua = normalized(a, n, d, centered), ub = normalized(b, m, d, centered);
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) {
            const float want = element(&ua[(size_t)(i * d)], &ub[(size_t)(j * d)], d, fma);
            const float got = out[(size_t)(i * m + j)];
            if (bits(want) != bits(got))
                return std::fprintf(stderr,
                                    "FAILED: n %lld m %lld d %lld centered %d threads %d: S[%lld, %lld] = %.9g, "
                                    "the blocked order gives %.9g\n",
                                    (long long)n, (long long)m, (long long)d, centered ? 1 : 0, threads, (long long)i,
                                    (long long)j, (double)got, (double)want),
                       1;
        }
    return 0;
}

}  // namespace

int main() {
    const bool fma = fused();
    // n, m, d
    const int64_t shapes[][3] = {{1, 1, 1},      {13, 37, 1},    {7, 5, 3},     {25, 50, 255},  {37, 33, 256},
                                 {13, 70, 257},  {61, 47, 600},  {490, 100, 300}, {30, 2100, 300}, {250, 45, 513}};
    uint64_t seed = 101;
    for (const auto& s : shapes)
        for (int32_t threads : {1, 2})
            for (bool centered : {false, true})
                if (int rc = check(s[0], s[1], s[2], centered, threads, seed++, fma)) return rc;
    for (const auto& s : shapes)
        if (int rc = check(s[0], s[0], s[2], true, 2, seed++, fma, true)) return rc;
    std::printf("similarity_bits_test: the float32 cosine kernel follows the blocked order bit for bit (%s)\n",
                fma ? "fused multiply-adds" : "multiply then add");
    return 0;
}
