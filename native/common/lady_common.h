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

/* Kernel 2 (lady_permute_tensors): a tensor seen as [rows, n1 * block, inner] with row_bytes =
 * n1 * unit_bytes and unit_bytes = block * inner bytes. Byte offset of the source of byte `b` of
 * output row i, when p0 (size rows, or null: identity) permutes axis 0 and p1 (size n1, or null)
 * permutes axis 1 in blocks: out[i, j*block+k, r] = in[p0[i], p1[j]*block+k, r]. */
LADY_HD int64_t lady_permuted_index(int64_t j, const int64_t* p) {  /* p[j], identity when p is null */
    return p ? p[j] : j;
}
LADY_HD int64_t lady_permute2_source_offset(int64_t i, int64_t b, int64_t row_bytes, int64_t unit_bytes,
                                            const int64_t* p0, const int64_t* p1) {
    const int64_t col = p1 ? lady_permuted_index(b / unit_bytes, p1) * unit_bytes + b % unit_bytes : b;
    return lady_permuted_index(i, p0) * row_bytes + col;
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
