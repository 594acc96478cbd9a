// Reference batched permutation: the plain, obviously correct version every other is tested against.
// One tensor at a time, one outer slice at a time: copy the slice aside, then gather rows back.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lady_common.h"
#include "lady_internal.h"

extern "C" int32_t lady_permute_ref(int32_t count, const int64_t* addresses, const int64_t* outer,
                                    const int64_t* row_bytes, const int64_t* perm, int64_t n) {
    int32_t st = lady_validate_permute(count, addresses, outer, row_bytes, perm, n);
    if (st != LADY_OK) return st;
    for (int32_t t = 0; t < count; ++t) {
        char* base = reinterpret_cast<char*>(addresses[t]);
        const int64_t rb = row_bytes[t];
        std::vector<char> slice;
        try {
            slice.resize((size_t)(n * rb));
        } catch (...) {
            return lady_fail(LADY_ERR_OUT_OF_MEMORY, "permute_ref: cannot allocate %lld bytes", (long long)(n * rb));
        }
        for (int64_t o = 0; o < outer[t]; ++o) {
            char* s = base + lady_row_offset(o, 0, n, rb);
            std::memcpy(slice.data(), s, (size_t)(n * rb));
            for (int64_t j = 0; j < n; ++j)
                std::memcpy(base + lady_row_offset(o, j, n, rb),
                            slice.data() + lady_permuted_source_offset(0, j, n, rb, perm), (size_t)rb);
        }
    }
    return lady_ok();
}
