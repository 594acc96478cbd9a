// Reference linear assignment: the plain O(n^3) Hungarian algorithm with potentials (shortest
// augmenting paths added one row at a time, Kuhn-Munkres in its e-maxx form), in double
// precision, minimizing the cost -s[i][j]: i.e. maximizing the total similarity.
#include <cmath>
#include <limits>
#include <new>
#include <vector>

#include "resync_internal.h"

extern "C" int32_t lady_assign_ref(int64_t s, int64_t n, int64_t perm) {
    int32_t st = lady_validate_assign("assign_ref", s, n, perm, 1);
    if (st != LADY_OK) return st;
    if (n == 0) return lady_ok();
    const float* x = reinterpret_cast<const float*>(s);
    const double inf = std::numeric_limits<double>::infinity();
    try {
        // 1-based: row 0 and column 0 are the virtual start of each augmenting path.
        std::vector<double> u((size_t)n + 1, 0.0), v((size_t)n + 1, 0.0), minv((size_t)n + 1);
        std::vector<int64_t> p((size_t)n + 1, 0), way((size_t)n + 1, 0);  // p[j]: row of column j
        std::vector<char> used((size_t)n + 1);
        for (int64_t i = 1; i <= n; ++i) {
            p[0] = i;
            int64_t j0 = 0;
            std::fill(minv.begin(), minv.end(), inf);
            std::fill(used.begin(), used.end(), 0);
            do {
                used[(size_t)j0] = 1;
                const int64_t i0 = p[(size_t)j0];
                double delta = inf;
                int64_t j1 = 0;
                for (int64_t j = 1; j <= n; ++j) {
                    if (used[(size_t)j]) continue;
                    const double cur = -(double)x[(i0 - 1) * n + (j - 1)] - u[(size_t)i0] - v[(size_t)j];
                    if (cur < minv[(size_t)j]) {
                        minv[(size_t)j] = cur;
                        way[(size_t)j] = j0;
                    }
                    if (minv[(size_t)j] < delta) {
                        delta = minv[(size_t)j];
                        j1 = j;
                    }
                }
                for (int64_t j = 0; j <= n; ++j) {
                    if (used[(size_t)j]) {
                        u[(size_t)p[(size_t)j]] += delta;
                        v[(size_t)j] -= delta;
                    } else {
                        minv[(size_t)j] -= delta;
                    }
                }
                j0 = j1;
            } while (p[(size_t)j0] != 0);
            do {
                const int64_t j1 = way[(size_t)j0];
                p[(size_t)j0] = p[(size_t)j1];
                j0 = j1;
            } while (j0 != 0);
        }
        int32_t* out = reinterpret_cast<int32_t*>(perm);
        for (int64_t j = 1; j <= n; ++j) out[p[(size_t)j] - 1] = (int32_t)(j - 1);
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "assign_ref: cannot allocate the potentials for n = %lld",
                         (long long)n);
    }
    if (!lady_is_permutation32(reinterpret_cast<int32_t*>(perm), n))
        return lady_fail(LADY_ERR_INTERNAL, "assign_ref: result is not a permutation (n = %lld)", (long long)n);
    return lady_ok();
}
