// Optimized CPU ranking: per-row argmax with second best, per-row top-k, canonical sort.
//
// Design: rows are independent, so argmax and top-k split rows over threads (lady::parallel_ranges).
//  - argmax_top2: one pass per row with the shared lady_top2_push; the common case (a value not
//    above the running second best) is one predictable compare, so the pass runs at memory speed.
//  - topk: per row, std::nth_element on (value, index) pairs under lady_ranks_before (a strict
//    total order, so the result equals the reference's stable sort), then sorts the k winners:
//    O(m + k log k) per row instead of a full sort.
//  - sort_desc: (key, index) pairs sorted in one chunk per thread under the same total order, then
//    merged; contiguous pairs sort faster than an index array that chases the scores.
#include <algorithm>
#include <new>
#include <utility>
#include <vector>

#include "parallel.h"
#include "resync_common.h"
#include "resync_internal.h"

namespace {

struct Item {
    float value;
    int32_t index;
};

inline bool before(const Item& p, const Item& q) { return lady_ranks_before(p.value, p.index, q.value, q.index); }

// Rows per thread below which starting threads costs more than it saves.
constexpr int64_t kMinElementsPerThread = int64_t(1) << 16;

int32_t threads_for_elements(int64_t elements) {
    int64_t t = elements / kMinElementsPerThread;
    t = std::max<int64_t>(1, std::min<int64_t>(t, lady_get_num_threads()));
    return (int32_t)t;
}

}  // namespace

extern "C" int32_t lady_argmax_top2_cpu(int64_t s, int64_t n, int64_t m, int64_t index, int64_t best,
                                        int64_t second) {
    int32_t st = lady_validate_argmax("argmax_top2_cpu", s, n, m, index, best, second);
    if (st != LADY_OK) return st;
    const float* x = reinterpret_cast<const float*>(s);
    int32_t* oi = reinterpret_cast<int32_t*>(index);
    float* ob = reinterpret_cast<float*>(best);
    float* os = reinterpret_cast<float*>(second);
    try {
        lady::parallel_ranges(n, std::min<int32_t>(threads_for_elements(n * m), (int32_t)std::max<int64_t>(n, 1)),
                              [&](int32_t, int64_t begin, int64_t end) {
                                  for (int64_t i = begin; i < end; ++i) {
                                      const float* r = x + i * m;
                                      lady_top2 t = lady_top2_empty();
                                      for (int64_t j = 0; j < m; ++j)
                                          if (t.index < 0 || r[j] > t.second) t = lady_top2_push(t, r[j], j);
                                      oi[i] = (int32_t)t.index;
                                      ob[i] = t.best;
                                      os[i] = t.second;
                                  }
                              });
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "argmax_top2_cpu: %s", e.what());
    }
    return lady_ok();
}

extern "C" int32_t lady_topk_cpu(int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices, int64_t values) {
    int32_t st = lady_validate_topk("topk_cpu", s, n, m, k, indices, values);
    if (st != LADY_OK) return st;
    const float* x = reinterpret_cast<const float*>(s);
    int32_t* oi = reinterpret_cast<int32_t*>(indices);
    float* ov = reinterpret_cast<float*>(values);
    try {
        lady::parallel_ranges(n, std::min<int32_t>(threads_for_elements(n * m), (int32_t)std::max<int64_t>(n, 1)),
                              [&](int32_t, int64_t begin, int64_t end) {
                                  std::vector<Item> items((size_t)m);
                                  for (int64_t i = begin; i < end; ++i) {
                                      const float* r = x + i * m;
                                      for (int64_t j = 0; j < m; ++j) items[(size_t)j] = {r[j], (int32_t)j};
                                      if (k < m) std::nth_element(items.begin(), items.begin() + k, items.end(), before);
                                      std::sort(items.begin(), items.begin() + k, before);
                                      for (int64_t t = 0; t < k; ++t) {
                                          oi[i * k + t] = items[(size_t)t].index;
                                          ov[i * k + t] = items[(size_t)t].value;
                                      }
                                  }
                              });
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "topk_cpu: cannot allocate %lld items per thread", (long long)m);
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "topk_cpu: %s", e.what());
    }
    return lady_ok();
}

extern "C" int32_t lady_sort_desc_cpu(int64_t scores, int64_t n, int64_t order) {
    int32_t st = lady_validate_sort("sort_desc_cpu", scores, n, order);
    if (st != LADY_OK) return st;
    const float* x = reinterpret_cast<const float*>(scores);
    int32_t* o = reinterpret_cast<int32_t*>(order);
    try {
        std::vector<Item> items((size_t)n);
        for (int64_t j = 0; j < n; ++j) items[(size_t)j] = {x[j], (int32_t)j};
        const int32_t parts = threads_for_elements(n);
        std::vector<int64_t> bounds((size_t)parts + 1);
        for (int32_t p = 0; p <= parts; ++p) bounds[(size_t)p] = n * p / parts;
        lady::parallel_ranges(parts, parts, [&](int32_t, int64_t begin, int64_t end) {
            for (int64_t p = begin; p < end; ++p)
                std::sort(items.begin() + bounds[(size_t)p], items.begin() + bounds[(size_t)p + 1], before);
        });
        for (int32_t p = 1; p < parts; ++p)
            std::inplace_merge(items.begin(), items.begin() + bounds[(size_t)p], items.begin() + bounds[(size_t)p + 1],
                               before);
        for (int64_t j = 0; j < n; ++j) o[j] = items[(size_t)j].index;
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "sort_desc_cpu: cannot allocate %lld items", (long long)n);
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "sort_desc_cpu: %s", e.what());
    }
    return lady_ok();
}
