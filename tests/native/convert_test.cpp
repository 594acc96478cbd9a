// Half precision to float32 (lady.h kernel 6): every CPU path (the best one, AVX2 at most, scalar; each where
// the CPU has it, the others falling back) against the reference, bit for bit: all 65,536 inputs of bf16 and
// f16, unaligned starts (0..17 values into both buffers), lengths 0..70 and a long one, nothing written
// outside [dst_offset, dst_offset + n); the reference's f16 against a spelling of IEEE half written here.
#include <cmath>

#include "test_util.h"

using namespace lady_test;

namespace {

using Fn = int32_t (*)(int64_t, int64_t, int64_t, int64_t);

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

int64_t addr(const void* p) { return (int64_t)(intptr_t)p; }

// IEEE half by its definition, for finite values: (-1)^s * 2^(e - 15) * (1 + m / 1024), subnormals 2^-14 * m / 1024.
bool f16_ok(uint16_t h, float got) {
    const int s = h >> 15, e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0x1F) {
        const uint32_t want = ((uint32_t)s << 31) | 0x7F800000u | ((uint32_t)m << 13);  // Java's bits, NaN unquieted
        return bits(got) == want;
    }
    const double v = e == 0 ? std::ldexp((double)m, -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
    return (double)got == (s ? -v : v) && std::signbit(got) == (s != 0);
}

int compare(Fn ref, Fn cpu, const char* who, const std::vector<uint16_t>& src, int64_t so, int64_t dof, int64_t n) {
    std::vector<float> want((size_t)(dof + n + 4), 1234.5f), got((size_t)(dof + n + 4), 1234.5f);
    if (ref(addr(src.data() + so), addr(want.data()), dof, n) != LADY_OK) return fail(who, (uint64_t)so, n);
    if (cpu(addr(src.data() + so), addr(got.data()), dof, n) != LADY_OK) return fail(who, (uint64_t)so, n);
    if (std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0) {
        for (size_t i = 0; i < want.size(); ++i)
            if (bits(want[i]) != bits(got[i]))
                std::fprintf(stderr, "%s (%s): value %zu of n %lld at src +%lld dst +%lld: %08x, reference %08x\n", who,
                             lady_convert_kernel_name(), i, (long long)n, (long long)so, (long long)dof, bits(got[i]),
                             bits(want[i]));
        return 1;
    }
    for (int64_t i = 0; i < dof; ++i)
        if (got[(size_t)i] != 1234.5f) return fail("wrote before dst_offset", (uint64_t)so, n);
    for (size_t i = (size_t)(dof + n); i < got.size(); ++i)
        if (got[i] != 1234.5f) return fail("wrote past the end", (uint64_t)so, n);
    return 0;
}

}  // namespace

int main() {
    std::vector<uint16_t> all(65536 + 64);
    for (size_t i = 0; i < all.size(); ++i) all[i] = (uint16_t)(i * 40503u);  // every value in the first 65,536
    std::vector<float> out(65536);
    // the reference against the formats' definitions, every input
    if (lady_bf16_to_float_ref(addr(all.data()), addr(out.data()), 0, 65536) != LADY_OK) return fail("bf16 ref", 0, 0);
    for (size_t i = 0; i < 65536; ++i)
        if (bits(out[i]) != (uint32_t)all[i] << 16) return fail("bf16 ref is not the upper half", i, 65536);
    if (lady_f16_to_float_ref(addr(all.data()), addr(out.data()), 0, 65536) != LADY_OK) return fail("f16 ref", 0, 0);
    for (size_t i = 0; i < 65536; ++i)
        if (!f16_ok(all[i], out[i])) return fail("f16 ref is not IEEE half", all[i], 65536);

    std::mt19937_64 rng(19);
    for (int32_t mode : {0, 1, 2}) {
        lady_set_convert_kernel(mode);
        const struct {
            Fn ref, cpu;
            const char* who;
        } kinds[] = {{lady_bf16_to_float_ref, lady_bf16_to_float_cpu, "bf16_to_float_cpu"},
                     {lady_f16_to_float_ref, lady_f16_to_float_cpu, "f16_to_float_cpu"}};
        for (const auto& k : kinds) {
            for (int64_t so = 0; so <= 17; ++so)  // all inputs, from unaligned starts
                if (compare(k.ref, k.cpu, k.who, all, so, (so * 7) % 18, 65536)) return 1;
            for (int64_t so = 0; so <= 17; ++so)
                for (int64_t dof = 0; dof <= 17; ++dof)
                    for (int64_t n = 0; n <= 70; ++n) {
                        std::vector<uint16_t> src((size_t)(so + n));
                        for (auto& v : src) v = (uint16_t)rng();
                        if (compare(k.ref, k.cpu, k.who, src, so, dof, n)) return 1;
                    }
        }
    }
    lady_set_convert_kernel(0);
    // bad arguments: refused with a message
    float f = 0;
    if (lady_bf16_to_float_cpu(addr(all.data()), addr(&f), 0, -1) != LADY_ERR_INVALID_ARGUMENT) return fail("n < 0", 0, -1);
    if (lady_f16_to_float_cpu(0, addr(&f), 0, 1) != LADY_ERR_INVALID_ARGUMENT) return fail("null src", 0, 1);
    if (lady_f16_to_float_ref(addr(all.data()), addr(&f), -1, 1) != LADY_ERR_INVALID_ARGUMENT) return fail("offset", 0, 1);
    if (lady_bf16_to_float_cpu(0, 0, 0, 0) != LADY_OK) return fail("n = 0 without buffers", 0, 0);
    std::printf("convert: ok (paths up to %s)\n", lady_convert_kernel_name());
    return 0;
}
