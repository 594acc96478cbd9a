// Reference ranking: per-row argmax with the second-best value, per-row top-k, and the stable
// descending sort of the canonical order. Plain loops and std::stable_sort; the order is always
// "larger value first, ties by lower index" (lady_ranks_before).
#include <algorithm>
#include <new>
#include <numeric>
#include <vector>

#include "resync_common.h"
#include "resync_internal.h"

extern "C" int32_t lady_argmax_top2_ref(int64_t s, int64_t n, int64_t m, int64_t index, int64_t best,
                                        int64_t second) {
    int32_t st = lady_validate_argmax("argmax_top2_ref", s, n, m, index, best, second);
    if (st != LADY_OK) return st;
    const float* x = reinterpret_cast<const float*>(s);
    for (int64_t i = 0; i < n; ++i) {
        int64_t bi = 0;
        for (int64_t j = 1; j < m; ++j)
            if (x[i * m + j] > x[i * m + bi]) bi = j;  // strict: the lowest index wins ties
        float sec = -INFINITY;
        for (int64_t j = 0; j < m; ++j)
            if (j != bi && x[i * m + j] > sec) sec = x[i * m + j];
        reinterpret_cast<int32_t*>(index)[i] = (int32_t)bi;
        reinterpret_cast<float*>(best)[i] = x[i * m + bi];
        reinterpret_cast<float*>(second)[i] = sec;
    }
    return lady_ok();
}

extern "C" int32_t lady_topk_ref(int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices, int64_t values) {
    int32_t st = lady_validate_topk("topk_ref", s, n, m, k, indices, values);
    if (st != LADY_OK) return st;
    const float* x = reinterpret_cast<const float*>(s);
    try {
        std::vector<int32_t> order((size_t)m);
        for (int64_t i = 0; i < n; ++i) {
            const float* r = x + i * m;
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [r](int32_t p, int32_t q) { return r[p] > r[q]; });
            for (int64_t t = 0; t < k; ++t) {
                reinterpret_cast<int32_t*>(indices)[i * k + t] = order[(size_t)t];
                reinterpret_cast<float*>(values)[i * k + t] = r[order[(size_t)t]];
            }
        }
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "topk_ref: cannot allocate %lld indices", (long long)m);
    }
    return lady_ok();
}

extern "C" int32_t lady_sort_desc_ref(int64_t scores, int64_t n, int64_t order) {
    int32_t st = lady_validate_sort("sort_desc_ref", scores, n, order);
    if (st != LADY_OK) return st;
    const float* x = reinterpret_cast<const float*>(scores);
    int32_t* o = reinterpret_cast<int32_t*>(order);
    std::iota(o, o + n, 0);
    try {
        std::stable_sort(o, o + n, [x](int32_t p, int32_t q) { return x[p] > x[q]; });
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "sort_desc_ref: out of memory");
    }
    return lady_ok();
}
