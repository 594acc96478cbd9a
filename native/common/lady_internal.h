/*
 * lady_internal.h: host-side helpers shared by every backend (errors, validation, facts).
 * Not part of the ABI.
 */
#ifndef LADY_INTERNAL_H
#define LADY_INTERNAL_H

#include <stdint.h>
#include "lady.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Records `code` and a printf-style message as this thread's last error; returns code. */
int32_t lady_fail(int32_t code, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clears this thread's last error and returns LADY_OK. */
int32_t lady_ok(void);

/* Validates the arguments of a lady_permute_* call: pointers, sizes, and that perm is a
 * permutation of 0..n-1. Returns LADY_OK or a failure recorded with lady_fail. */
int32_t lady_validate_permute(int32_t count, const int64_t* addresses, const int64_t* outer,
                              const int64_t* row_bytes, const int64_t* perm, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* LADY_INTERNAL_H */
