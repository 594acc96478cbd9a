/*
 * resync_common.h: the arithmetic that the reference, CPU and CUDA versions of the resync kernels
 * (similarity, ranking, assignment) share. Small inline functions usable from host and device code
 * (LADY_HD, from lady_common.h), so the CPU tests exercise the same comparisons the GPU runs.
 */
#ifndef LADY_RESYNC_COMMON_H
#define LADY_RESYNC_COMMON_H

#include <math.h>
#include <stdint.h>

#include "lady_common.h"

/* Row normalization (method.md section 4): u = x / max(||x||_2, eps), as torch.nn.functional.normalize.
 * A zero row stays zero (its cosine with anything is 0). */
#define LADY_NORMALIZE_EPS 1e-12

#ifdef __cplusplus
extern "C" {
#endif

/* Inverse of a row norm given its sum of squares, with the eps floor above. */
LADY_HD double lady_inv_norm(double sum_squares) {
    double norm = sum_squares > 0.0 ? sqrt(sum_squares) : 0.0;
    return 1.0 / (norm > LADY_NORMALIZE_EPS ? norm : LADY_NORMALIZE_EPS);
}

/* The ranking order of every resync kernel: a before b when its value is larger, ties broken by
 * the lower index. This is what makes argmax, top-k and the canonical sort deterministic. */
LADY_HD int lady_ranks_before(float va, int64_t ia, float vb, int64_t ib) {
    return va > vb || (va == vb && ia < ib);
}

/* Sort key of a value: -0.0 becomes +0.0, so that a radix sort (which orders bit patterns and would
 * put -0.0 below +0.0) agrees with the comparison above (which sees them equal). */
LADY_HD float lady_sort_key(float v) { return v + 0.0f; }

/* Best and second-best of a set of (value, index): best by lady_ranks_before; second is the largest
 * value of the others (it equals best when the maximum appears twice). Empty: index -1, -inf. */
typedef struct {
    float best;
    float second;
    int64_t index;
} lady_top2;

LADY_HD lady_top2 lady_top2_empty(void) {
    lady_top2 t;
    t.best = -INFINITY;
    t.second = -INFINITY;
    t.index = -1;
    return t;
}

/* Adds one (value, index). */
LADY_HD lady_top2 lady_top2_push(lady_top2 t, float v, int64_t i) {
    if (t.index < 0 || lady_ranks_before(v, i, t.best, t.index)) {
        if (t.index >= 0) t.second = t.best;
        t.best = v;
        t.index = i;
    } else if (v > t.second) {
        t.second = v;
    }
    return t;
}

/* Merges two partial results over disjoint index sets (order independent). */
LADY_HD lady_top2 lady_top2_merge(lady_top2 a, lady_top2 b) {
    if (b.index < 0) return a;
    if (a.index < 0) return b;
    lady_top2 r;
    if (lady_ranks_before(a.best, a.index, b.best, b.index)) {
        r = a;
        if (b.best > r.second) r.second = b.best;
    } else {
        r = b;
        if (a.best > r.second) r.second = a.best;
    }
    return r;
}

#ifdef __cplusplus
}
#endif

#endif /* LADY_RESYNC_COMMON_H */
