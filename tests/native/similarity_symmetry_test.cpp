// The float32 CPU cosine kernel is symmetric bit for bit, K(a, b) == K(b, a), and an element does not depend on the
// positions of its two rows in the call or on the other rows of the call: what lady.resync.CopyMargins rests on (the
// margins of an exact copy from the upper half of the reference's own similarity matrix). Sizes that leave partial
// micro-tiles (12 x 32, 6 x 16, 4 x 8), row blocks (240), depth blocks (256) and column blocks (2048); a zero row,
// a duplicate row and rows of extreme scales. The kernel's instruction set is chosen once per process: run this test
// under each instruction set the machine can be limited to.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "lady.h"

namespace {

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

std::vector<float> rows_of(const std::vector<float>& x, int64_t d, const std::vector<int64_t>& idx) {
    std::vector<float> out((size_t)(idx.size() * d));
    for (size_t r = 0; r < idx.size(); ++r) std::memcpy(&out[r * d], &x[(size_t)(idx[r] * d)], sizeof(float) * d);
    return out;
}

bool cosine(const std::vector<float>& a, const std::vector<float>& b, int64_t n, int64_t m, int64_t d,
            std::vector<float>& out) {
    out.assign((size_t)(n * m), 0.f);
    return lady_cosine_similarity_cpu((int64_t)(intptr_t)a.data(), (int64_t)(intptr_t)b.data(), n, m, d, 0,
                                      (int64_t)(intptr_t)out.data()) == LADY_OK;
}

int check(int64_t n, int64_t d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> val(0.f, 1.f);
    std::vector<float> x((size_t)(n * d));
    for (auto& v : x) v = val(rng);
    std::fill(x.begin() + 9 * d, x.begin() + 10 * d, 0.f);                // a zero row
    std::memcpy(&x[(size_t)(17 * d)], &x[(size_t)(5 * d)], sizeof(float) * d);  // a duplicate row
    for (int64_t t = 0; t < d; ++t) x[(size_t)(30 * d + t)] *= 1e-20f, x[(size_t)(31 * d + t)] *= 1e20f;
    std::vector<float> k;
    if (!cosine(x, x, n, n, d, k)) return std::fprintf(stderr, "FAILED: call (%s)\n", lady_last_error()), 1;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j)
            if (bits(k[(size_t)(i * n + j)]) != bits(k[(size_t)(j * n + i)]))
                return std::fprintf(stderr, "FAILED: n %lld d %lld: K(%lld, %lld) != K(%lld, %lld)\n", (long long)n,
                                    (long long)d, (long long)i, (long long)j, (long long)j, (long long)i),
                       1;
    // shuffled subsets against each other, both ways: other positions, other neighbours
    std::vector<int64_t> perm((size_t)n);
    for (int64_t i = 0; i < n; ++i) perm[(size_t)i] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    const int64_t na = std::min<int64_t>(37, n), nb = std::min<int64_t>(241, n - 20);
    std::vector<int64_t> ia(perm.begin(), perm.begin() + na), ib(perm.begin() + 20, perm.begin() + 20 + nb);
    std::vector<float> ab, ba;
    if (!cosine(rows_of(x, d, ia), rows_of(x, d, ib), na, nb, d, ab) ||
        !cosine(rows_of(x, d, ib), rows_of(x, d, ia), nb, na, d, ba))
        return std::fprintf(stderr, "FAILED: call (%s)\n", lady_last_error()), 1;
    for (int64_t r = 0; r < na; ++r)
        for (int64_t c = 0; c < nb; ++c) {
            const uint32_t full = bits(k[(size_t)(ia[(size_t)r] * n + ib[(size_t)c])]);
            if (full != bits(ab[(size_t)(r * nb + c)]) || full != bits(ba[(size_t)(c * na + r)]))
                return std::fprintf(stderr, "FAILED: n %lld d %lld: rows %lld, %lld moved\n", (long long)n,
                                    (long long)d, (long long)ia[(size_t)r], (long long)ib[(size_t)c]),
                       1;
        }
    return 0;
}

}  // namespace

int main() {
    lady_set_num_threads(2);
    const int64_t shapes[][2] = {{263, 600}, {263, 49}, {263, 1}, {250, 513}};
    uint64_t seed = 11;
    for (const auto& s : shapes)
        if (int rc = check(s[0], s[1], seed++)) return rc;
    // more columns than one column block (2048), both ways
    std::mt19937_64 rng(3);
    std::normal_distribution<float> val(0.f, 1.f);
    const int64_t d = 300, n = 30, m = 2100;
    std::vector<float> a((size_t)(n * d)), b((size_t)(m * d)), ab, ba;
    for (auto& v : a) v = val(rng);
    for (auto& v : b) v = val(rng);
    if (!cosine(a, b, n, m, d, ab) || !cosine(b, a, m, n, d, ba))
        return std::fprintf(stderr, "FAILED: call (%s)\n", lady_last_error()), 1;
    for (int64_t r = 0; r < n; ++r)
        for (int64_t c = 0; c < m; ++c)
            if (bits(ab[(size_t)(r * m + c)]) != bits(ba[(size_t)(c * n + r)]))
                return std::fprintf(stderr, "FAILED: wide: %lld, %lld\n", (long long)r, (long long)c), 1;
    std::printf("similarity_symmetry_test: the float32 cosine kernel is symmetric and position-free, bit for bit\n");
    return 0;
}
