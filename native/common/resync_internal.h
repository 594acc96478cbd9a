/*
 * resync_internal.h: host-side validation shared by every backend of the resync kernels
 * (similarity, ranking, assignment). Not part of the ABI. Each returns LADY_OK or a failure
 * recorded with lady_fail (message prefixed by the kernel name).
 */
#ifndef LADY_RESYNC_INTERNAL_H
#define LADY_RESYNC_INTERNAL_H

#include <stdint.h>

#include "lady_internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sizes non-negative, addresses non-null when their matrix is not empty. */
int32_t lady_validate_normalize(const char* kernel, int64_t in, int64_t out, int64_t rows, int64_t d);
int32_t lady_validate_similarity(const char* kernel, int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                 int64_t out);
/* As lady_validate_similarity, plus the inverse norms' addresses (n and m doubles). */
int32_t lady_validate_similarity_bf16(const char* kernel, int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                      int64_t inv_a, int64_t inv_b, int64_t out);
/* Also m >= 1 when n >= 1, 1 <= k <= m for topk, and no NaN in s. */
int32_t lady_validate_argmax(const char* kernel, int64_t s, int64_t n, int64_t m, int64_t index, int64_t best,
                             int64_t second);
int32_t lady_validate_topk(const char* kernel, int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices,
                           int64_t values);
int32_t lady_validate_sort(const char* kernel, int64_t scores, int64_t n, int64_t order);
/* Square matrix: n >= 0, addresses, and every value finite (check_values != 0; the CPU version
 * checks values itself while it reads the matrix). */
int32_t lady_validate_assign(const char* kernel, int64_t s, int64_t n, int64_t perm, int32_t check_values);

/* First NaN (or, with reject_infinite, non-finite value) of x[rows x cols] into *row, *col;
 * returns 1 when found. */
int32_t lady_find_bad_value(const float* x, int64_t rows, int64_t cols, int32_t reject_infinite, int64_t* row,
                            int64_t* col);

/* 1 when perm[0..n) (int32) holds each of 0..n-1 once. */
int32_t lady_is_permutation32(const int32_t* perm, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* LADY_RESYNC_INTERNAL_H */
