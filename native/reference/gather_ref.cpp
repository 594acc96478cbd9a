// Reference gather (lady.h kernel 5): one unit at a time, the plain version the CPU one is tested against.
#include <cstring>

#include "gather_internal.h"
#include "lady_common.h"

extern "C" int32_t lady_gather_rows_ref(int64_t src, int64_t dst, int64_t rows, int64_t n1, int64_t unit_bytes,
                                        const int64_t* p0, const int64_t* p1, int64_t row_begin, int64_t row_end) {
    int32_t st = lady::validate_gather("gather_rows_ref", src, dst, rows, n1, unit_bytes, p0, p1, row_begin, row_end);
    if (st != LADY_OK) return st;
    const char* s = reinterpret_cast<const char*>(src);
    char* d = reinterpret_cast<char*>(dst);
    const int64_t row_bytes = n1 * unit_bytes;
    for (int64_t i = row_begin; i < row_end; ++i) {
        const int64_t from = p0 != nullptr ? p0[i] : i;
        for (int64_t j = 0; j < n1; ++j) {
            const int64_t col = p1 != nullptr ? p1[j] : j;
            std::memcpy(d + (i - row_begin) * row_bytes + j * unit_bytes, s + from * row_bytes + col * unit_bytes,
                        (size_t)unit_bytes);
        }
    }
    return lady_ok();
}
