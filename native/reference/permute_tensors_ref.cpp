// Reference whole-network permutation (two axes per tensor): the plain, obviously correct version
// every other is tested against. One tensor at a time: copy it aside whole, then gather every
// (row, axis-1 unit) back from the copy with the shared index arithmetic.
#include <cstring>
#include <vector>

#include "lady_common.h"
#include "permute_tensors_internal.h"

extern "C" int32_t lady_permute_tensors_ref(int32_t count, const int64_t* addresses, const int64_t* dims,
                                            const int64_t* perm_offsets, const int64_t* perms,
                                            int64_t perms_length) {
    std::vector<lady::Tensor2> tensors;
    int32_t st = lady::validate_permute_tensors("permute_tensors_ref", count, addresses, dims, perm_offsets, perms,
                                                perms_length, tensors);
    if (st != LADY_OK) return st;
    for (const lady::Tensor2& t : tensors) {
        std::vector<char> copy;
        try {
            copy.assign(t.base, t.base + t.bytes());
        } catch (...) {
            return lady_fail(LADY_ERR_OUT_OF_MEMORY, "permute_tensors_ref: cannot allocate %lld bytes",
                             (long long)t.bytes());
        }
        for (int64_t i = 0; i < t.rows; ++i)
            for (int64_t j = 0; j < t.n1; ++j)
                std::memcpy(t.base + i * t.row_bytes + j * t.unit_bytes,
                            copy.data() + lady_permute2_source_offset(i, j * t.unit_bytes, t.row_bytes, t.unit_bytes,
                                                                      t.p0, t.p1),
                            (size_t)t.unit_bytes);
    }
    return lady_ok();
}
