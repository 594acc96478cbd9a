// gather_internal.h: argument checks of the gather kernel (lady.h kernel 5), shared by its versions.
#ifndef LADY_GATHER_INTERNAL_H
#define LADY_GATHER_INTERNAL_H

#include <cstdint>

#include "lady_internal.h"

namespace lady {

// Checks the arguments of lady_gather_rows_*: sizes, ranges, and every index that will be read
// (p1 whole, p0 over [row_begin, row_end)). Returns LADY_OK or a failure recorded with lady_fail.
inline int32_t validate_gather(const char* who, int64_t src, int64_t dst, int64_t rows, int64_t n1,
                               int64_t unit_bytes, const int64_t* p0, const int64_t* p1, int64_t row_begin,
                               int64_t row_end) {
    if (rows < 0 || n1 < 0 || unit_bytes < 1)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: bad sizes rows=%lld n1=%lld unit_bytes=%lld", who,
                         (long long)rows, (long long)n1, (long long)unit_bytes);
    if (row_begin < 0 || row_end < row_begin || row_end > rows)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: rows [%lld, %lld) outside 0..%lld", who,
                         (long long)row_begin, (long long)row_end, (long long)rows);
    if (row_end > row_begin && n1 > 0 && (src == 0 || dst == 0))
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: null address", who);
    if (p1 != nullptr)
        for (int64_t j = 0; j < n1; ++j)
            if (p1[j] < 0 || p1[j] >= n1)
                return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: axis-1 index %lld at %lld outside 0..%lld", who,
                                 (long long)p1[j], (long long)j, (long long)(n1 - 1));
    if (p0 != nullptr)
        for (int64_t i = row_begin; i < row_end; ++i)
            if (p0[i] < 0 || p0[i] >= rows)
                return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: row index %lld at %lld outside 0..%lld", who,
                                 (long long)p0[i], (long long)i, (long long)(rows - 1));
    return LADY_OK;
}

}  // namespace lady

#endif
