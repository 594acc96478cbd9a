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

/* A float32 from its bits (no conversion: NaN payloads, signaling ones included, pass unchanged). */
LADY_HD float lady_float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    __builtin_memcpy(&f, &u, sizeof f);
    return f;
#endif
}

/* bfloat16 bits to float32 (lady.h kernel 6): the upper half of a float32, exact. */
LADY_HD float lady_bf16_bits_to_float(uint16_t h) {
    return lady_float_from_bits((uint32_t)h << 16);
}

/* IEEE half-precision bits to float32 (lady.h kernel 6), exact, exactly as Java's HostTensor.float16ToFloat:
 * subnormals as mant * 2^-24 (signed zeros kept), infinities, and NaN as sign | 0x7F800000 | mant << 13 (the
 * payload moved up, a signaling NaN stays signaling: no quiet bit is set, unlike the hardware's vcvtph2ps). */
LADY_HD float lady_f16_bits_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu;
    const uint32_t mant = h & 0x3FFu;
    if (exp == 0x1Fu) return lady_float_from_bits(sign | 0x7F800000u | (mant << 13));
    if (exp == 0u) {
        const float v = (float)mant * 5.9604644775390625e-8f; /* 2^-24: exact in float32 */
        return sign ? -v : v;
    }
    return lady_float_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

#ifdef __cplusplus
}
#endif

#endif /* LADY_COMMON_H */
