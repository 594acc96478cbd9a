/*
 * permute_tensors_internal.h: host-side pieces shared by the three versions of
 * lady_permute_tensors_* (validation and the decoded tensor descriptions). Not part of the ABI.
 */
#ifndef LADY_PERMUTE_TENSORS_INTERNAL_H
#define LADY_PERMUTE_TENSORS_INTERNAL_H

#include <stdint.h>

#include <vector>

#include "lady_internal.h"

namespace lady {

// One tensor of a lady_permute_tensors_* call, decoded from dims / perm_offsets.
struct Tensor2 {
    char* base;
    int64_t rows;        // size of axis 0
    int64_t n1;          // neurons along axis 1
    int64_t unit_bytes;  // block * inner_bytes: bytes moved with one axis-1 neuron in one row
    int64_t row_bytes;   // n1 * unit_bytes
    const int64_t* p0;   // axis-0 permutation (rows values) or nullptr
    const int64_t* p1;   // axis-1 permutation (n1 values) or nullptr
    int64_t bytes() const { return rows * row_bytes; }
};

// Validates every argument of a lady_permute_tensors_* call (`who` names the version in messages)
// and decodes the tensors into `out` (tensors with no bytes or nothing to do are dropped).
// Returns LADY_OK or a failure recorded with lady_fail; nothing is written to any tensor.
int32_t validate_permute_tensors(const char* who, int32_t count, const int64_t* addresses, const int64_t* dims,
                                 const int64_t* perm_offsets, const int64_t* perms, int64_t perms_length,
                                 std::vector<Tensor2>& out);

}  // namespace lady

#endif
