/*
 * lady_common.h: the arithmetic that the reference, CPU and CUDA kernels share, in one place.
 *
 * Everything here is a small inline function usable from host and device code (LADY_HD), so the
 * CPU tests exercise exactly the index arithmetic that the GPU kernels run.
 */
#ifndef LADY_COMMON_H
#define LADY_COMMON_H

#include <stdint.h>

#if defined(__CUDACC__)
#define LADY_HD __host__ __device__ __forceinline__
#else
#define LADY_HD static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Byte offset of row (o, j) in a tensor seen as [outer, n, row_bytes]. */
LADY_HD int64_t lady_row_offset(int64_t o, int64_t j, int64_t n, int64_t row_bytes) {
    return (o * n + j) * row_bytes;
}

/* Byte offset of the row that becomes row (o, j) when `perm` is applied: new j is old perm[j]. */
LADY_HD int64_t lady_permuted_source_offset(int64_t o, int64_t j, int64_t n, int64_t row_bytes,
                                            const int64_t* perm) {
    return lady_row_offset(o, perm[j], n, row_bytes);
}

/* Segment holding global item g, given the exclusive prefix sums starts[0..count] (starts[0] = 0,
 * starts[count] = total): the largest s with starts[s] <= g. Binary search, O(log count). */
LADY_HD int32_t lady_find_segment(const int64_t* starts, int32_t count, int64_t g) {
    int32_t lo = 0, hi = count - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi + 1) / 2;
        if (starts[mid] <= g) lo = mid; else hi = mid - 1;
    }
    return lo;
}

#ifdef __cplusplus
}
#endif

#endif /* LADY_COMMON_H */
