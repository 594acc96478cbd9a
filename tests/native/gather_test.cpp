// Gather (lady.h kernel 5): the CPU version against the reference, exact bytes, on random shapes, unit
// sizes (the specialized 2, 4, 36 and others), maps with repeats, row windows; the convention spelled out
// independently; bad indices refused before any byte is written.
#include "test_util.h"

using namespace lady_test;

namespace {

using Fn = int32_t (*)(int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*, const int64_t*, int64_t, int64_t);

int check(Fn fn, const char* who, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const int64_t units[] = {1, 2, 3, 4, 8, 18, 36, 50};
    const int64_t rows = 1 + (int64_t)(rng() % 40), n1 = 1 + (int64_t)(rng() % 70);
    const int64_t unit = units[rng() % 8];
    std::vector<unsigned char> src((size_t)(rows * n1 * unit));
    for (auto& b : src) b = (unsigned char)rng();
    std::vector<int64_t> p0((size_t)rows), p1((size_t)n1);
    for (auto& v : p0) v = (int64_t)(rng() % (uint64_t)rows);  // repeats allowed
    for (auto& v : p1) v = (int64_t)(rng() % (uint64_t)n1);
    const bool use0 = rng() % 3 != 0, use1 = rng() % 3 != 0;
    const int64_t a = (int64_t)(rng() % (uint64_t)(rows + 1));
    const int64_t b = a + (int64_t)(rng() % (uint64_t)(rows - a + 1));
    std::vector<unsigned char> dst((size_t)((b - a) * n1 * unit + 1), 0xAB);
    if (fn((int64_t)(intptr_t)src.data(), (int64_t)(intptr_t)dst.data(), rows, n1, unit, use0 ? p0.data() : nullptr,
           use1 ? p1.data() : nullptr, a, b) != LADY_OK)
        return fail(who, seed, (int)rows);
    for (int64_t i = a; i < b; ++i)
        for (int64_t j = 0; j < n1; ++j) {
            const int64_t si = use0 ? p0[(size_t)i] : i, sj = use1 ? p1[(size_t)j] : j;
            if (std::memcmp(&dst[(size_t)(((i - a) * n1 + j) * unit)], &src[(size_t)((si * n1 + sj) * unit)],
                            (size_t)unit) != 0)
                return fail(who, seed, (int)rows);
        }
    if (dst.back() != 0xAB) return fail("wrote past the window", seed, (int)rows);
    return 0;
}

}  // namespace

int main() {
    for (uint64_t seed = 1; seed <= 200; ++seed) {
        if (check(lady_gather_rows_ref, "gather_rows_ref", seed)) return 1;
        if (check(lady_gather_rows_cpu, "gather_rows_cpu", seed)) return 1;
    }
    // bad indices: refused, nothing written
    std::vector<float> src(12, 1.f), dst(12, 7.f);
    const int64_t bad1[] = {0, 1, 3};
    const int64_t bad0[] = {0, 4, 1, 2};
    for (Fn fn : {lady_gather_rows_ref, lady_gather_rows_cpu}) {
        if (fn((int64_t)(intptr_t)src.data(), (int64_t)(intptr_t)dst.data(), 4, 3, 4, nullptr, bad1, 0, 4) !=
            LADY_ERR_INVALID_ARGUMENT)
            return fail("axis-1 index out of range accepted", 0, 0);
        if (fn((int64_t)(intptr_t)src.data(), (int64_t)(intptr_t)dst.data(), 4, 3, 4, bad0, nullptr, 0, 4) !=
            LADY_ERR_INVALID_ARGUMENT)
            return fail("row index out of range accepted", 0, 0);
        if (fn((int64_t)(intptr_t)src.data(), (int64_t)(intptr_t)dst.data(), 4, 3, 4, nullptr, nullptr, 2, 5) !=
            LADY_ERR_INVALID_ARGUMENT)
            return fail("row window outside the rows accepted", 0, 0);
        for (float v : dst)
            if (v != 7.f) return fail("wrote before refusing", 0, 0);
    }
    std::printf("gather_test: ok\n");
    return 0;
}
