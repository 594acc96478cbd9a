// Helpers of the native tests: a seeded generator, random batches, and byte comparison.
#ifndef LADY_TEST_UTIL_H
#define LADY_TEST_UTIL_H

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "lady.h"

#define LADY_SKIP_CODE 77

namespace lady_test {

struct Batch {
    std::vector<std::vector<float>> data;
    std::vector<int64_t> outer, row_bytes;
    std::vector<int64_t> addresses() {
        std::vector<int64_t> a;
        for (auto& d : data) a.push_back((int64_t)(intptr_t)d.data());
        return a;
    }
};

inline std::vector<int64_t> random_perm(int64_t n, std::mt19937_64& rng) {
    std::vector<int64_t> p((size_t)n);
    std::iota(p.begin(), p.end(), 0);
    std::shuffle(p.begin(), p.end(), rng);
    return p;
}

inline Batch random_batch(int64_t n, int count, std::mt19937_64& rng) {
    Batch b;
    std::uniform_int_distribution<int64_t> outer_d(1, 9), row_d(1, 70);
    std::normal_distribution<float> val(0.f, 1.f);
    for (int t = 0; t < count; ++t) {
        int64_t o = outer_d(rng), r = row_d(rng);
        if (t == 0) { o = 1; r = 1; }  // a bias-like vector
        b.outer.push_back(o);
        b.row_bytes.push_back(r * 4);
        std::vector<float> d((size_t)(o * n * r));
        for (auto& x : d) x = val(rng);
        b.data.push_back(std::move(d));
    }
    return b;
}

inline bool same_bytes(const Batch& a, const Batch& b) {
    for (size_t t = 0; t < a.data.size(); ++t)
        if (std::memcmp(a.data[t].data(), b.data[t].data(), a.data[t].size() * sizeof(float)) != 0) return false;
    return true;
}

inline int fail(const char* what, uint64_t seed, int64_t n) {
    std::fprintf(stderr, "FAILED: %s (seed %llu, n %lld): %s\n", what, (unsigned long long)seed, (long long)n,
                 lady_last_error());
    return 1;
}

}  // namespace lady_test

#endif
