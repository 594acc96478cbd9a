// convert_internal.h: argument checks of the half precision conversion (lady.h kernel 6), shared by its versions.
#ifndef LADY_CONVERT_INTERNAL_H
#define LADY_CONVERT_INTERNAL_H

#include <cstdint>

#include "lady_internal.h"

namespace lady {

// Sizes and addresses of lady_{bf16,f16}_to_float_*. Returns LADY_OK or a failure recorded with lady_fail.
inline int32_t validate_convert(const char* who, int64_t src, int64_t dst, int64_t dst_offset, int64_t n) {
    if (n < 0 || dst_offset < 0)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: bad sizes n=%lld dst_offset=%lld", who, (long long)n,
                         (long long)dst_offset);
    if (n > 0 && (src == 0 || dst == 0)) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: null address", who);
    return LADY_OK;
}

}  // namespace lady

#endif
