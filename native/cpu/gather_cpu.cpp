// CPU gather (lady.h kernel 5): rows split over threads; a row without an axis-1 map is one memcpy, a
// row with one is gathered unit by unit with the unit size fixed at compile time for the common cases
// (2 bytes: bfloat16/float16 Linear columns, 4: float32, 36: float32 3x3 conv columns).
#include <cstring>

#include "gather_internal.h"
#include "lady_common.h"
#include "parallel.h"

namespace {

template <int64_t U>
inline void gather_units(char* dst, const char* src, int64_t n1, const int64_t* p1) {
    for (int64_t j = 0; j < n1; ++j) std::memcpy(dst + j * U, src + p1[j] * U, (size_t)U);
}

inline void gather_row(char* dst, const char* src, int64_t n1, int64_t unit, const int64_t* p1) {
    if (p1 == nullptr) {
        std::memcpy(dst, src, (size_t)(n1 * unit));
        return;
    }
    switch (unit) {
        case 2: gather_units<2>(dst, src, n1, p1); return;
        case 4: gather_units<4>(dst, src, n1, p1); return;
        case 8: gather_units<8>(dst, src, n1, p1); return;
        case 18: gather_units<18>(dst, src, n1, p1); return;
        case 36: gather_units<36>(dst, src, n1, p1); return;
        default:
            for (int64_t j = 0; j < n1; ++j) std::memcpy(dst + j * unit, src + p1[j] * unit, (size_t)unit);
    }
}

}  // namespace

extern "C" int32_t lady_gather_rows_cpu(int64_t src, int64_t dst, int64_t rows, int64_t n1, int64_t unit_bytes,
                                        const int64_t* p0, const int64_t* p1, int64_t row_begin, int64_t row_end) {
    int32_t st = lady::validate_gather("gather_rows_cpu", src, dst, rows, n1, unit_bytes, p0, p1, row_begin, row_end);
    if (st != LADY_OK) return st;
    const char* s = reinterpret_cast<const char*>(src);
    char* d = reinterpret_cast<char*>(dst);
    const int64_t row_bytes = n1 * unit_bytes;
    const int64_t count = row_end - row_begin;
    try {
        const int32_t threads = lady::threads_for_bytes(2 * count * row_bytes);
        lady::parallel_ranges(count, threads, [&](int32_t, int64_t a, int64_t b) {
            for (int64_t k = a; k < b; ++k) {
                const int64_t i = row_begin + k;
                gather_row(d + k * row_bytes, s + (p0 != nullptr ? p0[i] : i) * row_bytes, n1, unit_bytes, p1);
            }
        });
    } catch (const std::exception& e) {
        return lady_fail(LADY_ERR_INTERNAL, "gather_rows_cpu: %s", e.what());
    }
    return lady_ok();
}
