// Validation shared by lady_permute_tensors_{ref,cpu,cuda}: sizes, offsets, and that every
// referenced index array is a permutation (each distinct array checked once).
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "permute_tensors_internal.h"

namespace lady {

int32_t validate_permute_tensors(const char* who, int32_t count, const int64_t* addresses, const int64_t* dims,
                                 const int64_t* perm_offsets, const int64_t* perms, int64_t perms_length,
                                 std::vector<Tensor2>& out) {
    out.clear();
    if (count < 0) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: negative tensor count %d", who, count);
    if (perms_length < 0)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: negative permutation pool length %lld", who,
                         (long long)perms_length);
    if (count > 0 && (addresses == nullptr || dims == nullptr || perm_offsets == nullptr))
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: null tensor description array", who);
    if (perms_length > 0 && perms == nullptr)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: null permutation pool", who);
    std::map<std::pair<int64_t, int64_t>, bool> checked;  // (offset, size) already validated
    for (int32_t t = 0; t < count; ++t) {
        const int64_t rows = dims[4 * t], n1 = dims[4 * t + 1], block = dims[4 * t + 2], inner = dims[4 * t + 3];
        if (rows < 0 || n1 < 0 || block < 1 || inner < 0)
            return lady_fail(LADY_ERR_INVALID_ARGUMENT,
                             "%s: tensor %d has invalid dims (rows %lld, n1 %lld, block %lld, inner bytes %lld)", who, t,
                             (long long)rows, (long long)n1, (long long)block, (long long)inner);
        const int64_t sizes[2] = {rows, n1};
        const int64_t* p[2] = {nullptr, nullptr};
        for (int axis = 0; axis < 2; ++axis) {
            const int64_t off = perm_offsets[2 * t + axis];
            if (off == -1) continue;
            if (off < 0 || off > perms_length || sizes[axis] > perms_length - off)
                return lady_fail(LADY_ERR_INVALID_ARGUMENT,
                                 "%s: tensor %d axis %d: permutation at offset %lld of size %lld lies outside the pool "
                                 "of %lld values",
                                 who, t, axis, (long long)off, (long long)sizes[axis], (long long)perms_length);
            p[axis] = perms + off;
            if (!checked[{off, sizes[axis]}]) {
                if (lady_validate_permute(0, nullptr, nullptr, nullptr, p[axis], sizes[axis]) != LADY_OK) {
                    std::string why = lady_last_error();
                    return lady_fail(LADY_ERR_NOT_PERMUTATION, "%s: tensor %d axis %d: %s", who, t, axis, why.c_str());
                }
                checked[{off, sizes[axis]}] = true;
            }
        }
        const int64_t unit = block * inner, row = n1 * unit;
        if (rows == 0 || row == 0) continue;
        if (p[0] == nullptr && p[1] == nullptr) continue;
        if (addresses[t] == 0) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: tensor %d has a null address", who, t);
        out.push_back({reinterpret_cast<char*>(addresses[t]), rows, n1, unit, row, p[0], p[1]});
    }
    return LADY_OK;
}

}  // namespace lady
