// Optimized CPU linear assignment: Jonker-Volgenant (LAPJV) shortest augmenting paths in double
// precision, maximizing sum_i s[i, perm[i]] by minimizing the cost c(i, j) = -s[i, j].
//
// Design, for the near-permutation matrices of resync (most rows have one dominant column):
//  1. Greedy start, in parallel over rows (lady::parallel_ranges), fused with the finiteness check:
//     every row's argmax column (lowest index on ties). Each claimed column goes to the claiming row
//     with the largest value (lowest row on ties); the other claimants stay free. With column duals
//     v = 0 every assigned row sits on its row minimum of c(i, j) - v[j], i.e. the partial
//     assignment is dual feasible and complementary slack, which is all JV needs to continue. This
//     replaces LAPJV's column reduction: on resync matrices it leaves only the rows whose argmax
//     collided (the paper's "duplicates") to be fixed.
//  2. Augmenting row reduction (LAPJV, two passes): a free row takes its best column and lowers that
//     column's dual by the gap to its second best, evicting the owner (auction-like). Evictions
//     cascade through many rows, so each row keeps a list of its kCandidates cheapest columns with a
//     lower bound for the rest (valid because duals only decrease here): a step costs O(K), and O(n)
//     (AVX-512 when available) only when the list is (re)collected.
//  3. Shortest augmenting paths (Dijkstra on reduced costs, JV's dense augmentation) for each row still
//     free, with dual updates. Each scanned row costs O(n); on near-permutations a path scans few rows.
// Measured on the 2-core AVX-512 machine while shared (load ~18): near-permutation similarity of
// rows vs permuted noisy copies (d = 256), n = 4096 with 6% argmax duplicates 0.13 s; n = 11008
// with 2% duplicates 0.12 s, with 9% duplicates 0.79 s.
// The matrix is read in float and converted on the fly: no n x n double copy (11008^2 doubles would
// be 970 MB). Result checked to be a permutation before returning.
#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LADY_X86 1
#endif

#include "parallel.h"
#include "resync_internal.h"

namespace {

// Passes of augmenting row reduction (LAPJV uses two).
constexpr int kRowReductionPasses = 2;
// Candidate columns kept per row for augmenting row reduction: the K smallest reduced costs
// -s[i, j] - v[j] at the time they were collected, and the largest of them as `bound`. Column duals
// only decrease during row reduction, so reduced costs only increase: every other column stays at or
// above `bound` forever. When the best two candidates are within the bound they are the exact best
// two of the whole row, found in O(K) instead of O(n); otherwise the list is collected again.
constexpr int64_t kCandidates = 16;
// Rows per thread below which the greedy pass runs on one thread.
constexpr int64_t kMinElementsPerThread = int64_t(1) << 16;

// ---- row scans, the two hot loops outside the augmenting paths -----------------------------------
// Scalar versions define the semantics; AVX-512 versions (chosen at run time) give the same result.

// Argmax of a row (lowest index on ties); *bad set when a value is NaN or infinite.
int64_t row_argmax_scalar(const float* r, int64_t n, bool* bad) {
    float best = r[0];
    int64_t bi = 0;
    bool b = false;
    for (int64_t j = 0; j < n; ++j) {
        b |= !(std::fabs(r[j]) <= std::numeric_limits<float>::max());
        if (r[j] > best) {
            best = r[j];
            bi = j;
        }
    }
    *bad = b;
    return bi;
}

// Smallest and second smallest reduced cost c = -r[j] - v[j] of a row: j1 the lowest index of the
// minimum v1; v2 the smallest value among the other columns (== v1 on a tie), j2 one of its columns.
struct RowMin2 {
    double v1, v2;
    int64_t j1, j2;
};

inline void push_min2(RowMin2& t, double c, int64_t j) {
    if (c < t.v2) {
        if (c >= t.v1) {
            t.v2 = c;
            t.j2 = j;
        } else {
            t.v2 = t.v1;
            t.j2 = t.j1;
            t.v1 = c;
            t.j1 = j;
        }
    }
}

RowMin2 row_min2_scalar(const float* r, const double* v, int64_t n) {
    RowMin2 t{-(double)r[0] - v[0], std::numeric_limits<double>::infinity(), 0, -1};
    for (int64_t j = 1; j < n; ++j) push_min2(t, -(double)r[j] - v[j], j);
    return t;
}

#ifdef LADY_X86
constexpr int64_t kF32Lanes = 16, kF64Lanes = 8;  // floats and doubles per zmm register
constexpr __mmask8 kAllLanes = 0xFF;                // (the masked convert avoids a GCC 12 false warning)

__attribute__((target("avx512f"))) int64_t row_argmax_avx512(const float* r, int64_t n, bool* bad) {
    if (n < kF32Lanes) return row_argmax_scalar(r, n, bad);
    const __m512 big = _mm512_set1_ps(std::numeric_limits<float>::max());
    const __m512i sign_off = _mm512_set1_epi32(0x7fffffff);
    __m512 best = _mm512_loadu_ps(r);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i best_idx = idx;
    const __m512i step = _mm512_set1_epi32((int)kF32Lanes);
    __mmask16 badm = 0;
    int64_t j = 0;
    for (; j + kF32Lanes <= n; j += kF32Lanes) {
        const __m512 x = _mm512_loadu_ps(r + j);
        const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), sign_off));
        badm |= _mm512_cmp_ps_mask(ax, big, _CMP_NLE_UQ);  // NaN or |x| > max: not finite
        const __mmask16 gt = _mm512_cmp_ps_mask(x, best, _CMP_GT_OQ);
        best = _mm512_mask_blend_ps(gt, best, x);
        best_idx = _mm512_mask_blend_epi32(gt, best_idx, idx);
        idx = _mm512_add_epi32(idx, step);
    }
    alignas(64) float bv[kF32Lanes];
    alignas(64) int32_t bi[kF32Lanes];
    _mm512_store_ps(bv, best);
    _mm512_store_si512(bi, best_idx);
    float b = bv[0];
    int64_t at = bi[0];
    for (int q = 1; q < kF32Lanes; ++q)
        if (bv[q] > b || (bv[q] == b && bi[q] < at)) {
            b = bv[q];
            at = bi[q];
        }
    bool tail_bad = false;
    for (; j < n; ++j) {
        tail_bad |= !(std::fabs(r[j]) <= std::numeric_limits<float>::max());
        if (r[j] > b) {
            b = r[j];
            at = j;
        }
    }
    *bad = badm != 0 || tail_bad;
    return at;
}

__attribute__((target("avx512f"))) RowMin2 row_min2_avx512(const float* r, const double* v, int64_t n) {
    if (n < 2 * kF64Lanes) return row_min2_scalar(r, v, n);
    const __m512d inf = _mm512_set1_pd(std::numeric_limits<double>::infinity());
    const __m512d zero = _mm512_setzero_pd();
    __m512d m1 = inf, m2 = inf;
    __m512i i1 = _mm512_set1_epi64(-1), i2 = i1;
    __m512i idx = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i step = _mm512_set1_epi64(kF64Lanes);
    int64_t j = 0;
    for (; j + kF64Lanes <= n; j += kF64Lanes) {
        const __m512d c = _mm512_sub_pd(_mm512_sub_pd(zero, _mm512_maskz_cvtps_pd(kAllLanes, _mm256_loadu_ps(r + j))), _mm512_loadu_pd(v + j));
        const __mmask8 lt1 = _mm512_cmp_pd_mask(c, m1, _CMP_LT_OQ);
        const __mmask8 lt2 = (__mmask8)(_mm512_cmp_pd_mask(c, m2, _CMP_LT_OQ) & ~lt1);
        m2 = _mm512_mask_blend_pd(lt1, _mm512_mask_blend_pd(lt2, m2, c), m1);
        i2 = _mm512_mask_blend_epi64(lt1, _mm512_mask_blend_epi64(lt2, i2, idx), i1);
        m1 = _mm512_mask_blend_pd(lt1, m1, c);
        i1 = _mm512_mask_blend_epi64(lt1, i1, idx);
        idx = _mm512_add_epi64(idx, step);
    }
    alignas(64) double v1[kF64Lanes], v2[kF64Lanes];
    alignas(64) int64_t j1[kF64Lanes], j2[kF64Lanes];
    _mm512_store_pd(v1, m1);
    _mm512_store_pd(v2, m2);
    _mm512_store_si512(j1, i1);
    _mm512_store_si512(j2, i2);
    // merge the lanes' candidates in index order of their minima, so ties keep the lowest index
    RowMin2 t{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), -1, -1};
    for (int q = 0; q < kF64Lanes; ++q) {
        if (j1[q] >= 0 && (v1[q] < t.v1 || (v1[q] == t.v1 && j1[q] < t.j1))) {
            if (t.j1 >= 0 && t.v1 < t.v2) {
                t.v2 = t.v1;
                t.j2 = t.j1;
            }
            t.v1 = v1[q];
            t.j1 = j1[q];
        } else if (j1[q] >= 0 && v1[q] < t.v2) {
            t.v2 = v1[q];
            t.j2 = j1[q];
        }
        if (j2[q] >= 0 && v2[q] < t.v2) {
            t.v2 = v2[q];
            t.j2 = j2[q];
        }
    }
    for (; j < n; ++j) push_min2(t, -(double)r[j] - v[j], j);
    return t;
}
#endif

using RowArgmax = int64_t (*)(const float*, int64_t, bool*);
using RowMin2Fn = RowMin2 (*)(const float*, const double*, int64_t);

struct Scans {
    RowArgmax argmax;
    RowMin2Fn min2;
};

const Scans& scans() {
    static const Scans chosen = [] {
#ifdef LADY_X86
        __builtin_cpu_init();
        if (lady_max_cpu_isa() <= 0 && __builtin_cpu_supports("avx512f")) return Scans{row_argmax_avx512, row_min2_avx512};
#endif
        return Scans{row_argmax_scalar, row_min2_scalar};
    }();
    return chosen;
}

// The kCandidates smallest reduced costs of a row (any order) and a lower bound for all the others.
struct Candidates {
    int64_t count = 0;
    int64_t index[kCandidates];
    double bound;  // no other column's reduced cost is below it (+inf when the row has at most K columns)
};

// Inserts reduced cost rc of column j if it beats the worst kept one.
inline void offer_candidate(Candidates& c, double* val, int64_t& worst, double rc, int64_t j) {
    if (rc < val[worst]) {
        c.index[worst] = j;
        val[worst] = rc;
        for (int64_t q = 0; q < c.count; ++q)
            if (val[q] > val[worst]) worst = q;
    }
}

void collect_candidates_scalar(const float* r, const double* v, int64_t n, Candidates& c) {
    const int64_t k = std::min(kCandidates, n);
    double val[kCandidates];
    c.count = k;
    int64_t worst = 0;
    for (int64_t j = 0; j < k; ++j) {
        c.index[j] = j;
        val[j] = -(double)r[j] - v[j];
        if (val[j] > val[worst]) worst = j;
    }
    for (int64_t j = k; j < n; ++j) offer_candidate(c, val, worst, -(double)r[j] - v[j], j);  // rare insertions
    c.bound = k < n ? val[worst] : std::numeric_limits<double>::infinity();
}

#ifdef LADY_X86
// Same result; 8 reduced costs per step compared at once with the current threshold, the rare
// lanes below it inserted one by one.
__attribute__((target("avx512f"))) void collect_candidates_avx512(const float* r, const double* v, int64_t n,
                                                                   Candidates& c) {
    const int64_t k = std::min(kCandidates, n);
    double val[kCandidates];
    c.count = k;
    int64_t worst = 0;
    for (int64_t j = 0; j < k; ++j) {
        c.index[j] = j;
        val[j] = -(double)r[j] - v[j];
        if (val[j] > val[worst]) worst = j;
    }
    const __m512d zero = _mm512_setzero_pd();
    int64_t j = k;
    for (; j + kF64Lanes <= n; j += kF64Lanes) {
        const __m512d rc = _mm512_sub_pd(_mm512_sub_pd(zero, _mm512_maskz_cvtps_pd(kAllLanes, _mm256_loadu_ps(r + j))),
                                         _mm512_loadu_pd(v + j));
        __mmask8 hit = _mm512_cmp_pd_mask(rc, _mm512_set1_pd(val[worst]), _CMP_LT_OQ);
        if (hit == 0) continue;
        alignas(64) double lane[kF64Lanes];
        _mm512_store_pd(lane, rc);
        for (int q = 0; q < kF64Lanes; ++q)
            if (hit & (1u << q)) offer_candidate(c, val, worst, lane[q], j + q);
    }
    for (; j < n; ++j) offer_candidate(c, val, worst, -(double)r[j] - v[j], j);
    c.bound = k < n ? val[worst] : std::numeric_limits<double>::infinity();
}
#endif

using CollectFn = void (*)(const float*, const double*, int64_t, Candidates&);

CollectFn collect_candidates_fn() {
    static const CollectFn chosen = [] {
#ifdef LADY_X86
        __builtin_cpu_init();
        if (lady_max_cpu_isa() <= 0 && __builtin_cpu_supports("avx512f")) return (CollectFn)collect_candidates_avx512;
#endif
        return (CollectFn)collect_candidates_scalar;
    }();
    return chosen;
}

inline void collect_candidates(const float* r, const double* v, int64_t n, Candidates& c) {
    collect_candidates_fn()(r, v, n, c);
}

struct Lap {
    const float* s;
    int64_t n;
    std::vector<int64_t> x, y;  // x[i]: column of row i, y[j]: row of column j (-1: free)
    std::vector<double> v;      // column duals
    std::vector<int64_t> cand_of;     // row -> slot in cand_pool (-1: not computed yet)
    std::vector<Candidates> cand_pool;

    double cost(int64_t i, int64_t j) const { return -(double)s[i * n + j]; }

    // Best two reduced costs of row i (see kCandidates); exact, O(K) when the candidates decide.
    RowMin2 row_min2(int64_t i) {
        const float* row = s + i * n;
        if (cand_of[(size_t)i] < 0) {
            cand_of[(size_t)i] = (int64_t)cand_pool.size();
            cand_pool.emplace_back();
            collect_candidates(row, v.data(), n, cand_pool.back());
        }
        for (int attempt = 0;; ++attempt) {
            Candidates& c = cand_pool[(size_t)cand_of[(size_t)i]];
            RowMin2 t{std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(), -1, -1};
            for (int64_t q = 0; q < c.count; ++q) {
                const int64_t j = c.index[q];
                const double rc = -(double)row[j] - v[(size_t)j];
                if (rc < t.v1 || (rc == t.v1 && j < t.j1)) {
                    t.v2 = t.v1;
                    t.j2 = t.j1;
                    t.v1 = rc;
                    t.j1 = j;
                } else if (rc < t.v2) {
                    t.v2 = rc;
                    t.j2 = j;
                }
            }
            if (t.v2 <= c.bound) return t;
            if (attempt > 0) return scans().min2(row, v.data(), n);  // fresh list still undecided: full scan
            collect_candidates(row, v.data(), n, c);
        }
    }

    // LAPJV augmenting row reduction over `free_rows`; returns the rows still free.
    std::vector<int64_t> row_reduction(std::vector<int64_t> free_rows) {
        int64_t current = 0, new_free = 0, steps = 0;
        const int64_t count = (int64_t)free_rows.size();
        while (current < count) {
            ++steps;
            const int64_t i = free_rows[(size_t)current++];
            const RowMin2 t = row_min2(i);
            int64_t j1 = t.j1, j2 = t.j2;
            const double v1 = t.v1, v2 = t.v2;
            int64_t i0 = y[(size_t)j1];
            const double lowered = v[(size_t)j1] - (v2 - v1);
            const bool lowers = lowered < v[(size_t)j1];
            if (steps < current * n) {
                if (lowers) {
                    v[(size_t)j1] = lowered;
                } else if (i0 >= 0 && j2 >= 0) {  // a tie: take the equally good free-er column
                    j1 = j2;
                    i0 = y[(size_t)j2];
                }
                if (i0 >= 0) {
                    if (lowers) {
                        free_rows[(size_t)--current] = i0;  // the evicted row goes next
                    } else {
                        free_rows[(size_t)new_free++] = i0;
                    }
                }
            } else if (i0 >= 0) {
                free_rows[(size_t)new_free++] = i0;
            }
            if (i0 >= 0) x[(size_t)i0] = -1;
            x[(size_t)i] = j1;
            y[(size_t)j1] = i;
        }
        free_rows.resize((size_t)new_free);
        return free_rows;
    }

    // JV dense augmentation from free row `start`: shortest path to a free column, then flips it.
    void augment(int64_t start, std::vector<int64_t>& cols, std::vector<double>& d, std::vector<int64_t>& pred) {
        for (int64_t j = 0; j < n; ++j) {
            cols[(size_t)j] = j;
            d[(size_t)j] = cost(start, j) - v[(size_t)j];
            pred[(size_t)j] = start;
        }
        int64_t lo = 0, hi = 0, ready = 0, final_j = -1;
        while (final_j < 0) {
            if (lo == hi) {  // collect the columns at the new minimum distance into [lo, hi)
                ready = lo;
                hi = lo + 1;
                double mind = d[(size_t)cols[(size_t)lo]];
                for (int64_t k = hi; k < n; ++k) {
                    const int64_t j = cols[(size_t)k];
                    if (d[(size_t)j] <= mind) {
                        if (d[(size_t)j] < mind) {
                            hi = lo;
                            mind = d[(size_t)j];
                        }
                        cols[(size_t)k] = cols[(size_t)hi];
                        cols[(size_t)hi++] = j;
                    }
                }
                for (int64_t k = lo; k < hi; ++k)
                    if (y[(size_t)cols[(size_t)k]] < 0) {
                        final_j = cols[(size_t)k];
                        break;
                    }
            }
            if (final_j >= 0) break;
            // scan the rows of the columns at minimum distance
            while (lo != hi && final_j < 0) {
                const int64_t jm = cols[(size_t)lo++];
                const int64_t i = y[(size_t)jm];
                const double mind = d[(size_t)jm];
                const double h = cost(i, jm) - v[(size_t)jm] - mind;
                const float* row = s + i * n;
                for (int64_t k = hi; k < n; ++k) {
                    const int64_t j = cols[(size_t)k];
                    const double reduced = -(double)row[j] - v[(size_t)j] - h;
                    if (reduced < d[(size_t)j]) {
                        d[(size_t)j] = reduced;
                        pred[(size_t)j] = i;
                        if (reduced == mind) {
                            if (y[(size_t)j] < 0) {
                                final_j = j;
                                break;
                            }
                            cols[(size_t)k] = cols[(size_t)hi];
                            cols[(size_t)hi++] = j;
                        }
                    }
                }
            }
        }
        // dual update of the columns whose distance became final (before this last round); the
        // path length is d[final_j], the current minimum distance
        const double mind = d[(size_t)final_j];
        for (int64_t k = 0; k < ready; ++k) {
            const int64_t j = cols[(size_t)k];
            v[(size_t)j] += d[(size_t)j] - mind;
        }
        // flip the path
        int64_t j = final_j, i = -1;
        while (i != start) {
            i = pred[(size_t)j];
            y[(size_t)j] = i;
            const int64_t previous = x[(size_t)i];
            x[(size_t)i] = j;
            j = previous;
        }
    }
};

}  // namespace

extern "C" int32_t lady_assign_cpu(int64_t s, int64_t n, int64_t perm) {
    int32_t st = lady_validate_assign("assign_cpu", s, n, perm, 0);
    if (st != LADY_OK) return st;
    if (n == 0) return lady_ok();
    const float* x = reinterpret_cast<const float*>(s);
    int32_t* out = reinterpret_cast<int32_t*>(perm);
    try {
        // 1. greedy start, fused with the finiteness check
        std::vector<int64_t> arg((size_t)n);
        std::vector<char> bad_rows((size_t)n, 0);
        int64_t threads = std::max<int64_t>(1, std::min<int64_t>(n * n / kMinElementsPerThread, lady_get_num_threads()));
        lady::parallel_ranges(n, (int32_t)threads, [&](int32_t, int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                bool bad = false;
                arg[(size_t)i] = scans().argmax(x + i * n, n, &bad);
                bad_rows[(size_t)i] = bad;
            }
        });
        for (int64_t i = 0; i < n; ++i)
            if (bad_rows[(size_t)i]) return lady_validate_assign("assign_cpu", s, n, perm, 1);  // names the value

        Lap lap{x, n, std::vector<int64_t>((size_t)n, -1), std::vector<int64_t>((size_t)n, -1),
                std::vector<double>((size_t)n, 0.0), std::vector<int64_t>((size_t)n, -1), {}};
        for (int64_t i = 0; i < n; ++i) {
            const int64_t j = arg[(size_t)i];
            const int64_t owner = lap.y[(size_t)j];
            if (owner < 0 || x[i * n + j] > x[owner * n + j]) {
                if (owner >= 0) lap.x[(size_t)owner] = -1;
                lap.y[(size_t)j] = i;
                lap.x[(size_t)i] = j;
            }
        }
        std::vector<int64_t> free_rows;
        for (int64_t i = 0; i < n; ++i)
            if (lap.x[(size_t)i] < 0) free_rows.push_back(i);

        // 2. augmenting row reduction, 3. shortest augmenting paths
        for (int pass = 0; pass < kRowReductionPasses && !free_rows.empty(); ++pass)
            free_rows = lap.row_reduction(std::move(free_rows));
        if (!free_rows.empty()) {
            std::vector<int64_t> cols((size_t)n), pred((size_t)n);
            std::vector<double> d((size_t)n);
            for (int64_t i : free_rows) lap.augment(i, cols, d, pred);
        }
        for (int64_t i = 0; i < n; ++i) out[i] = (int32_t)lap.x[(size_t)i];
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "assign_cpu: cannot allocate the work arrays for n = %lld",
                         (long long)n);
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "assign_cpu: %s", e.what());
    }
    if (!lady_is_permutation32(out, n))
        return lady_fail(LADY_ERR_INTERNAL, "assign_cpu: result is not a permutation (n = %lld)", (long long)n);
    return lady_ok();
}
