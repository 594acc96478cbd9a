// Optimized CPU batched permutation against the reference: exact bytes, random shapes and seeds,
// and the inverse permutation restores the input bit for bit. Bad input is refused.
#include "test_util.h"

using namespace lady_test;

int main() {
    for (uint64_t seed = 1; seed <= 40; ++seed) {
        std::mt19937_64 rng(seed);
        const int64_t n = (int64_t)(1 + rng() % 300);
        Batch ref = random_batch(n, 1 + (int)(rng() % 5), rng);
        Batch cpu = ref, original = ref;
        std::vector<int64_t> p = random_perm(n, rng);
        auto ra = ref.addresses(), ca = cpu.addresses();
        if (lady_permute_ref((int32_t)ra.size(), ra.data(), ref.outer.data(), ref.row_bytes.data(), p.data(), n))
            return fail("reference", seed, n);
        if (lady_permute_cpu((int32_t)ca.size(), ca.data(), cpu.outer.data(), cpu.row_bytes.data(), p.data(), n))
            return fail("cpu", seed, n);
        if (!same_bytes(ref, cpu)) return fail("cpu differs from reference", seed, n);
        // spot check the convention: after[o, j] = before[o, p[j]]
        const auto& d0 = original.data[0];
        if (ref.data[0][0] != d0[(size_t)p[0]]) return fail("convention new j = old p[j]", seed, n);
        std::vector<int64_t> inv((size_t)n);
        for (int64_t j = 0; j < n; ++j) inv[(size_t)p[(size_t)j]] = j;
        if (lady_permute_cpu((int32_t)ca.size(), ca.data(), cpu.outer.data(), cpu.row_bytes.data(), inv.data(), n))
            return fail("cpu inverse", seed, n);
        if (!same_bytes(cpu, original)) return fail("inverse does not restore", seed, n);
    }
    // A large case exercising column chunks and several threads.
    {
        std::mt19937_64 rng(99);
        const int64_t n = 600;
        Batch a;
        a.outer = {3};
        a.row_bytes = {4 * 5000};
        a.data.emplace_back((size_t)(3 * n * 5000));
        for (auto& x : a.data[0]) x = (float)(rng() % 1000);
        Batch b = a;
        auto p = random_perm(n, rng);
        auto aa = a.addresses(), ba = b.addresses();
        if (lady_permute_ref(1, aa.data(), a.outer.data(), a.row_bytes.data(), p.data(), n) ||
            lady_permute_cpu(1, ba.data(), b.outer.data(), b.row_bytes.data(), p.data(), n) || !same_bytes(a, b))
            return fail("large chunked case", 99, n);
    }
    // Long rows (cycle-following path, column chunks over threads) mixed with a bias and short
    // consumer columns in one batch, with fixed points in the permutation; 1 and 2 threads.
    for (int32_t threads = 1; threads <= 2; ++threads) {
        lady_set_num_threads(threads);
        std::mt19937_64 rng(7 + (uint64_t)threads);
        const int64_t n = 257;
        Batch a;
        a.outer = {1, 1, 5, 2};
        a.row_bytes = {4 * 25088, 4, 4, 4 * 1500};
        for (size_t t = 0; t < a.outer.size(); ++t) {
            a.data.emplace_back((size_t)(a.outer[t] * n * a.row_bytes[t] / 4));
            for (auto& x : a.data.back()) x = (float)(rng() % 100000);
        }
        Batch b = a;
        auto p = random_perm(n, rng);
        for (int64_t j = 0; j < n; j += 10) {  // make every 10th neuron a fixed point
            auto it = std::find(p.begin(), p.end(), j);
            std::iter_swap(it, p.begin() + j);
        }
        auto aa = a.addresses(), ba = b.addresses();
        if (lady_permute_ref(4, aa.data(), a.outer.data(), a.row_bytes.data(), p.data(), n) ||
            lady_permute_cpu(4, ba.data(), b.outer.data(), b.row_bytes.data(), p.data(), n) || !same_bytes(a, b))
            return fail("long rows (cycle path)", 7 + (uint64_t)threads, n);
    }
    lady_set_num_threads(0);
    // Bad input: a repeated index and a null address are refused, and nothing is written.
    {
        std::vector<float> d = {1, 2, 3};
        std::vector<int64_t> addr = {(int64_t)(intptr_t)d.data()}, outer = {1}, rb = {4}, bad = {0, 0, 2};
        if (lady_permute_cpu(1, addr.data(), outer.data(), rb.data(), bad.data(), 3) != LADY_ERR_NOT_PERMUTATION)
            return fail("repeated index accepted", 0, 3);
        if (std::strstr(lady_last_error(), "appears twice") == nullptr) return fail("message", 0, 3);
        if (d[0] != 1 || d[1] != 2 || d[2] != 3) return fail("bad input modified data", 0, 3);
        std::vector<int64_t> null_addr = {0}, good = {2, 1, 0};
        if (lady_permute_cpu(1, null_addr.data(), outer.data(), rb.data(), good.data(), 3) != LADY_ERR_INVALID_ARGUMENT)
            return fail("null address accepted", 0, 3);
    }
    std::printf("permute_test: cpu == reference on 41 random batches, inverse restores, bad input refused\n");
    return 0;
}
