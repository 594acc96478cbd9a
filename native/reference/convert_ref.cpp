// Reference half precision to float32 (lady.h kernel 6): one value at a time through lady_common.h's
// conversions, the plain version the CPU one is tested against.
#include "convert_internal.h"
#include "lady_common.h"

namespace {

int32_t convert(const char* who, float (*one)(uint16_t), int64_t src, int64_t dst, int64_t dst_offset, int64_t n) {
    int32_t st = lady::validate_convert(who, src, dst, dst_offset, n);
    if (st != LADY_OK) return st;
    const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
    float* d = reinterpret_cast<float*>(dst) + dst_offset;
    for (int64_t i = 0; i < n; ++i) d[i] = one(s[i]);
    return lady_ok();
}

}  // namespace

extern "C" int32_t lady_bf16_to_float_ref(int64_t src, int64_t dst, int64_t dst_offset, int64_t n) {
    return convert("bf16_to_float_ref", lady_bf16_bits_to_float, src, dst, dst_offset, n);
}

extern "C" int32_t lady_f16_to_float_ref(int64_t src, int64_t dst, int64_t dst_offset, int64_t n) {
    return convert("f16_to_float_ref", lady_f16_bits_to_float, src, dst, dst_offset, n);
}
