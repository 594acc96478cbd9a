// Helpers of the lady_permute_tensors_* tests: random batches of tensors with optional axis-0 and
// axis-1 permutations drawn from a shared pool, and their inverses.
#ifndef LADY_PERMUTE_TENSORS_UTIL_H
#define LADY_PERMUTE_TENSORS_UTIL_H

#include "test_util.h"

namespace lady_test {

struct Batch2 {
    std::vector<std::vector<float>> data;
    std::vector<int64_t> dims;          // 4 per tensor: rows, n1, block, inner bytes
    std::vector<int64_t> perm_offsets;  // 2 per tensor
    std::vector<int64_t> perms;         // the pool
    int32_t count() const { return (int32_t)data.size(); }
    std::vector<int64_t> addresses() {
        std::vector<int64_t> a;
        for (auto& d : data) a.push_back((int64_t)(intptr_t)d.data());
        return a;
    }
    bool same_data(const Batch2& o) const {
        for (size_t t = 0; t < data.size(); ++t)
            if (std::memcmp(data[t].data(), o.data[t].data(), data[t].size() * sizeof(float)) != 0) return false;
        return true;
    }
    // The same batch with every permutation of the pool replaced by its inverse.
    Batch2 inverse() const {
        Batch2 b = *this;
        std::vector<bool> done(perms.size(), false);
        for (size_t t = 0; t < data.size(); ++t)
            for (int axis = 0; axis < 2; ++axis) {
                int64_t off = perm_offsets[2 * t + axis];
                if (off < 0 || done[(size_t)off]) continue;
                done[(size_t)off] = true;
                int64_t n = axis == 0 ? dims[4 * t] : dims[4 * t + 1];
                for (int64_t j = 0; j < n; ++j) b.perms[(size_t)(off + perms[(size_t)(off + j)])] = j;
            }
        return b;
    }
};

// `count` tensors; axis sizes drawn from {small, medium} so that several tensors share one pooled
// permutation (a producer and its consumer); p0 / p1 each present with probability 2/3.
inline Batch2 random_batch2(int count, std::mt19937_64& rng, int64_t max_rows = 90) {
    Batch2 b;
    std::normal_distribution<float> val(0.f, 1.f);
    std::vector<std::pair<int64_t, int64_t>> pool_index;  // (size, offset)
    auto pooled = [&](int64_t n) -> int64_t {
        for (auto& pi : pool_index)
            if (pi.first == n && rng() % 2 == 0) return pi.second;
        int64_t off = (int64_t)b.perms.size();
        auto p = random_perm(n, rng);
        b.perms.insert(b.perms.end(), p.begin(), p.end());
        pool_index.push_back({n, off});
        return off;
    };
    for (int t = 0; t < count; ++t) {
        int64_t rows = 1 + (int64_t)(rng() % (uint64_t)max_rows);
        int64_t n1 = 1 + (int64_t)(rng() % 40), block = 1 + (int64_t)(rng() % 4);
        int64_t inner_elems = (rng() % 3 == 0) ? 9 : 1 + (int64_t)(rng() % 3);
        if (t == 0) { n1 = 1; block = 1; inner_elems = 1; }  // a bias-like vector
        b.dims.insert(b.dims.end(), {rows, n1, block, inner_elems * 4});
        b.perm_offsets.push_back(rng() % 3 ? pooled(rows) : -1);
        b.perm_offsets.push_back((n1 > 1 && rng() % 3) ? pooled(n1) : -1);
        std::vector<float> d((size_t)(rows * n1 * block * inner_elems));
        for (auto& x : d) x = val(rng);
        b.data.push_back(std::move(d));
    }
    return b;
}

}  // namespace lady_test

#endif
