// The ranking checks (argmax with second best, top-k, canonical sort), run by ranking_test (CPU)
// and ranking_cuda_test (CUDA): indices exactly equal to the reference's, values bit-equal
// (ranking copies values, it does not compute them).
#ifndef LADY_RANKING_CHECKS_H
#define LADY_RANKING_CHECKS_H

#include "resync_test_util.h"

namespace resync_test {

inline int check_ranking(const Backend& be, int seeds) {
    const Backend ref = reference();
    for (uint64_t seed = 1; seed <= (uint64_t)seeds; ++seed) {
        std::mt19937_64 rng(seed);
        const int64_t n = 1 + (int64_t)(rng() % 70), m = 1 + (int64_t)(rng() % 200);
        std::vector<float> s = seed % 2 ? tied_matrix(n, m, rng) : random_matrix(n, m, rng);
        if (seed % 5 == 0) s[0] = -0.0f;  // -0.0 ties with +0.0
        std::vector<int32_t> ir((size_t)n), ic((size_t)n);
        std::vector<float> br((size_t)n), bc((size_t)n), sr((size_t)n), sc((size_t)n);
        if (ref.argmax(addr(s), n, m, addr(ir), addr(br), addr(sr))) return fail(ref.name, "argmax", seed, n, m);
        if (be.argmax(addr(s), n, m, addr(ic), addr(bc), addr(sc))) return fail(be.name, "argmax", seed, n, m);
        for (int64_t i = 0; i < n; ++i)
            if (ir[(size_t)i] != ic[(size_t)i] || br[(size_t)i] != bc[(size_t)i] ||
                !(sr[(size_t)i] == sc[(size_t)i]))
                return fail(be.name, "argmax_top2 differs from reference", seed, n, m);
        const int64_t k = 1 + (int64_t)(rng() % (uint64_t)m);
        std::vector<int32_t> tr((size_t)(n * k)), tc((size_t)(n * k));
        std::vector<float> vr((size_t)(n * k)), vc((size_t)(n * k));
        if (ref.topk(addr(s), n, m, k, addr(tr), addr(vr))) return fail(ref.name, "topk", seed, n, m);
        if (be.topk(addr(s), n, m, k, addr(tc), addr(vc))) return fail(be.name, "topk", seed, n, m);
        if (tr != tc) return fail(be.name, "topk indices differ from reference", seed, n, m);
        for (size_t q = 0; q < vr.size(); ++q)
            if (vr[q] != vc[q]) return fail(be.name, "topk values differ from reference", seed, n, m);
        const int64_t len = n * m;
        std::vector<int32_t> orr((size_t)len), oc((size_t)len);
        if (ref.sort(addr(s), len, addr(orr))) return fail(ref.name, "sort", seed, len);
        if (be.sort(addr(s), len, addr(oc))) return fail(be.name, "sort", seed, len);
        if (orr != oc) return fail(be.name, "sort order differs from reference", seed, len);
    }
    // Known answers: ties go to the lower index; second equals best when the maximum repeats.
    {
        std::vector<float> s = {1.f, 3.f, 3.f, 2.f};
        std::vector<int32_t> i(1), order(4);
        std::vector<float> b(1), sec(1);
        if (be.argmax(addr(s), 1, 4, addr(i), addr(b), addr(sec)) || i[0] != 1 || b[0] != 3.f || sec[0] != 3.f)
            return fail(be.name, "argmax tie rule", 0, 1, 4);
        if (be.sort(addr(s), 4, addr(order)) || order != std::vector<int32_t>({1, 2, 3, 0}))
            return fail(be.name, "stable descending sort", 0, 4);
        std::vector<float> one = {5.f};
        if (be.argmax(addr(one), 1, 1, addr(i), addr(b), addr(sec)) || i[0] != 0 || !std::isinf(sec[0]) || sec[0] > 0)
            return fail(be.name, "single column: second must be -inf", 0, 1, 1);
    }
    // NaN and bad k refused.
    {
        std::vector<float> s = {1.f, NAN, 2.f, 0.f};
        std::vector<int32_t> i(2);
        std::vector<float> b(2), sec(2);
        if (be.argmax(addr(s), 2, 2, addr(i), addr(b), addr(sec)) != LADY_ERR_INVALID_ARGUMENT)
            return fail(be.name, "NaN accepted by argmax", 0, 2, 2);
        std::vector<float> ok = {1.f, 2.f};
        if (be.topk(addr(ok), 1, 2, 3, addr(i), addr(b)) != LADY_ERR_INVALID_ARGUMENT)
            return fail(be.name, "k > m accepted", 0, 1, 2);
        if (be.sort(addr(s), 4, addr(i)) != LADY_ERR_INVALID_ARGUMENT) return fail(be.name, "NaN accepted by sort", 0, 4);
    }
    return 0;
}

}  // namespace resync_test

#endif
