// Whole-network permutation (two axes per tensor): the CPU version against the reference, exact
// bytes, on random batches; the convention checked independently of the shared arithmetic; the
// inverse permutations restore the input bit for bit; bad input is refused before any write.
#include "permute_tensors_util.h"

using namespace lady_test;

namespace {

int run(const char* who, int32_t (*fn)(int32_t, const int64_t*, const int64_t*, const int64_t*, const int64_t*,
                                       int64_t),
        Batch2& b) {
    auto a = b.addresses();
    return fn(b.count(), a.data(), b.dims.data(), b.perm_offsets.data(), b.perms.data(), (int64_t)b.perms.size());
}

// after[i, j*block + k, r] == before[p0[i], p1[j]*block + k, r], spelled out element by element.
bool convention_holds(const Batch2& before, const Batch2& after) {
    for (size_t t = 0; t < before.data.size(); ++t) {
        const int64_t rows = before.dims[4 * t], n1 = before.dims[4 * t + 1], block = before.dims[4 * t + 2],
                      inner = before.dims[4 * t + 3] / 4;
        const int64_t o0 = before.perm_offsets[2 * t], o1 = before.perm_offsets[2 * t + 1];
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < n1; ++j)
                for (int64_t k = 0; k < block; ++k)
                    for (int64_t r = 0; r < inner; ++r) {
                        const int64_t si = o0 < 0 ? i : before.perms[(size_t)(o0 + i)];
                        const int64_t sj = o1 < 0 ? j : before.perms[(size_t)(o1 + j)];
                        const float want = before.data[t][(size_t)(((si * n1 * block) + sj * block + k) * inner + r)];
                        const float got = after.data[t][(size_t)(((i * n1 * block) + j * block + k) * inner + r)];
                        if (std::memcmp(&want, &got, 4) != 0) return false;
                    }
    }
    return true;
}

}  // namespace

int main() {
    for (uint64_t seed = 1; seed <= 60; ++seed) {
        std::mt19937_64 rng(seed);
        Batch2 ref = random_batch2(1 + (int)(rng() % 7), rng);
        Batch2 cpu = ref, original = ref;
        if (run("ref", lady_permute_tensors_ref, ref)) return fail("reference", seed, ref.count());
        if (!convention_holds(original, ref)) return fail("reference breaks the convention", seed, ref.count());
        if (run("cpu", lady_permute_tensors_cpu, cpu)) return fail("cpu", seed, cpu.count());
        if (!cpu.same_data(ref)) return fail("cpu differs from reference", seed, cpu.count());
        Batch2 inv = original.inverse();
        inv.data = cpu.data;
        if (run("cpu inverse", lady_permute_tensors_cpu, inv)) return fail("cpu inverse", seed, inv.count());
        if (!inv.same_data(original)) return fail("inverse does not restore", seed, inv.count());
    }
    // Large: many threads, long cycles cut into segments, in-place rows, 196-byte blocks
    // (the shape of VGG16's classifier.0, scaled down).
    {
        std::mt19937_64 rng(7);
        lady_set_num_threads(4);
        Batch2 a;
        const int64_t rows = 2048, n1 = 64, block = 49;
        a.dims = {rows, n1, block, 4, 3000, 1, 1, 4 * 700};
        auto p0 = random_perm(rows, rng), p1 = random_perm(n1, rng), p2 = random_perm(3000, rng);
        std::iota(p2.begin(), p2.end(), 0);  // fixed points 0..99 too
        std::shuffle(p2.begin() + 100, p2.end(), rng);
        a.perms = p0;
        a.perms.insert(a.perms.end(), p1.begin(), p1.end());
        a.perms.insert(a.perms.end(), p2.begin(), p2.end());
        a.perm_offsets = {0, rows, rows + n1, -1};
        a.data.emplace_back((size_t)(rows * n1 * block));
        a.data.emplace_back((size_t)(3000 * 700));
        for (auto& d : a.data)
            for (auto& x : d) x = (float)(rng() % 100000);
        Batch2 b = a;
        if (run("ref", lady_permute_tensors_ref, a) || run("cpu", lady_permute_tensors_cpu, b) || !a.same_data(b))
            return fail("large segmented case", 7, 2);
        lady_set_num_threads(0);
    }
    // Bad input: a repeated index, an offset outside the pool, a null address; nothing written.
    {
        std::vector<float> d = {1, 2, 3};
        std::vector<int64_t> addr = {(int64_t)(intptr_t)d.data()}, dims = {3, 1, 1, 4}, offs = {0, -1};
        std::vector<int64_t> bad = {0, 0, 2}, good = {2, 1, 0};
        if (lady_permute_tensors_cpu(1, addr.data(), dims.data(), offs.data(), bad.data(), 3) !=
            LADY_ERR_NOT_PERMUTATION)
            return fail("repeated index accepted", 0, 3);
        if (std::strstr(lady_last_error(), "tensor 0 axis 0") == nullptr ||
            std::strstr(lady_last_error(), "appears twice") == nullptr)
            return fail("message does not name the tensor and the problem", 0, 3);
        if (d[0] != 1 || d[1] != 2 || d[2] != 3) return fail("bad input modified data", 0, 3);
        std::vector<int64_t> far = {1, -1};
        if (lady_permute_tensors_cpu(1, addr.data(), dims.data(), far.data(), good.data(), 3) !=
            LADY_ERR_INVALID_ARGUMENT)
            return fail("offset outside the pool accepted", 0, 3);
        std::vector<int64_t> null_addr = {0};
        if (lady_permute_tensors_ref(1, null_addr.data(), dims.data(), offs.data(), good.data(), 3) !=
            LADY_ERR_INVALID_ARGUMENT)
            return fail("null address accepted", 0, 3);
    }
    std::printf("permute_tensors_test: cpu == reference on 61 random batches, convention, inverse restores, "
                "bad input refused\n");
    return 0;
}
