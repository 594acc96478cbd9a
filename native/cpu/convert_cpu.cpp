// Half precision to float32 on the CPU (lady.h kernel 6): the checkpoint read path's conversion.
//
// One thread, memory bound: a row of a bf16 checkpoint is read as float32 by every pass of a resync, so
// the conversion should cost what moving the bytes costs. Paths, chosen at run time with
// __builtin_cpu_supports like the other kernels, capped by lady_set_convert_kernel (tests and lady_bench
// run each path the CPU has):
//   avx512f  bf16: vpmovzxwd + vpslld, 16 values per instruction; f16: vcvtph2ps (16), its NaN lanes
//            rewritten to Java's float16ToFloat bits (the instruction sets the quiet bit, Java does not);
//   avx2     the same with 8 values (f16 needs F16C too; without it the f16 path is scalar);
//   scalar   lady_common.h's conversions, also the tail of the vector paths (n mod 16 or 8 values).
// Every path gives the reference's bits (tests/native/convert_test.cpp: all 65,536 inputs of each format,
// every path, unaligned starts, odd lengths). No CUDA version: the data is on the host.
#include <algorithm>
#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LADY_X86 1
#endif

#include "convert_internal.h"
#include "lady_common.h"

namespace {

using ConvertFn = void (*)(const uint16_t* s, float* d, int64_t n);

void bf16_scalar(const uint16_t* s, float* d, int64_t n) {
    for (int64_t i = 0; i < n; ++i) d[i] = lady_bf16_bits_to_float(s[i]);
}

void f16_scalar(const uint16_t* s, float* d, int64_t n) {
    for (int64_t i = 0; i < n; ++i) d[i] = lady_f16_bits_to_float(s[i]);
}

#ifdef LADY_X86
// vpmovzxwd (16 uint16 to 16 uint32) and vpslld through their zero-masked intrinsics with every lane kept: the
// plain ones trip GCC 12's -Wmaybe-uninitialized inside its header (_mm512_undefined_epi32); same instructions.
__attribute__((target("avx512f"), always_inline)) inline __m512i cvt16to32(__m256i h) {
    return _mm512_maskz_cvtepu16_epi32(0xFFFF, h);
}

__attribute__((target("avx512f"), always_inline)) inline __m512i shl32(__m512i x, unsigned count) {
    return _mm512_maskz_slli_epi32(0xFFFF, x, count);
}

__attribute__((target("avx512f"))) void bf16_avx512(const uint16_t* s, float* d, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512i a = cvt16to32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
        const __m512i b = cvt16to32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + 16)));
        _mm512_storeu_si512(d + i, shl32(a, 16));
        _mm512_storeu_si512(d + i + 16, shl32(b, 16));
    }
    for (; i + 16 <= n; i += 16) {
        const __m512i a = cvt16to32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
        _mm512_storeu_si512(d + i, shl32(a, 16));
    }
    bf16_scalar(s + i, d + i, n - i);
}

// 16 half values to float32 with Java's NaN bits: vcvtph2ps, then the lanes whose exponent is all ones
// (infinities and NaN) replaced by sign | 0x7F800000 | mant << 13.
__attribute__((target("avx512f"), always_inline)) inline __m512 f16x16(__m256i h) {
    const __m512i w = cvt16to32(h);
    const __m512 f = _mm512_maskz_cvtph_ps(0xFFFF, h);  // zero-masked, all lanes: as cvt16to32
    const __mmask16 special = _mm512_cmpeq_epi32_mask(_mm512_and_si512(w, _mm512_set1_epi32(0x7C00)),
                                                      _mm512_set1_epi32(0x7C00));
    if (special == 0) return f;
    const __m512i sign = shl32(_mm512_and_si512(w, _mm512_set1_epi32(0x8000)), 16);
    const __m512i mant = shl32(_mm512_and_si512(w, _mm512_set1_epi32(0x3FF)), 13);
    const __m512i bits = _mm512_or_si512(_mm512_or_si512(sign, mant), _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_mov_ps(f, special, _mm512_castsi512_ps(bits));
}

__attribute__((target("avx512f"))) void f16_avx512(const uint16_t* s, float* d, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(d + i, f16x16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i))));
    f16_scalar(s + i, d + i, n - i);
}

__attribute__((target("avx2"))) void bf16_avx2(const uint16_t* s, float* d, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i a = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
        const __m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + 8)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_slli_epi32(a, 16));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i + 8), _mm256_slli_epi32(b, 16));
    }
    for (; i + 8 <= n; i += 8) {
        const __m256i a = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_slli_epi32(a, 16));
    }
    bf16_scalar(s + i, d + i, n - i);
}

__attribute__((target("avx2,f16c"))) void f16_avx2(const uint16_t* s, float* d, int64_t n) {
    int64_t i = 0;
    const __m256i exp_mask = _mm256_set1_epi32(0x7C00);
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i));
        const __m256i w = _mm256_cvtepu16_epi32(h);
        __m256 f = _mm256_cvtph_ps(h);
        const __m256i special = _mm256_cmpeq_epi32(_mm256_and_si256(w, exp_mask), exp_mask);
        if (!_mm256_testz_si256(special, special)) {
            const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x8000)), 16);
            const __m256i mant = _mm256_slli_epi32(_mm256_and_si256(w, _mm256_set1_epi32(0x3FF)), 13);
            const __m256i bits = _mm256_or_si256(_mm256_or_si256(sign, mant), _mm256_set1_epi32(0x7F800000));
            f = _mm256_blendv_ps(f, _mm256_castsi256_ps(bits), _mm256_castsi256_ps(special));
        }
        _mm256_storeu_ps(d + i, f);
    }
    f16_scalar(s + i, d + i, n - i);
}
#endif

struct Paths {
    ConvertFn bf16, f16;
    const char* name;  // of the bf16 path
};

// The best path the CPU has, at most `cap` (0: any, 1: AVX2, 2: scalar).
Paths choose(int32_t cap) {
#ifdef LADY_X86
    __builtin_cpu_init();
    if (cap == 0 && __builtin_cpu_supports("avx512f")) return {bf16_avx512, f16_avx512, "avx512f"};
    if (cap <= 1 && __builtin_cpu_supports("avx2"))
        return {bf16_avx2, __builtin_cpu_supports("f16c") ? f16_avx2 : f16_scalar, "avx2"};
#else
    (void)cap;
#endif
    return {bf16_scalar, f16_scalar, "scalar"};
}

// The paths for the cap `cap` of lady_set_convert_kernel, or the environment's (LADY_MAX_CPU_ISA) if it is lower.
const Paths& paths(int32_t cap) {
    static const Paths chosen[3] = {choose(0), choose(1), choose(2)};
    return chosen[std::max(cap, lady_max_cpu_isa())];
}

std::atomic<int32_t> g_convert_cap{0};

}  // namespace

extern "C" void lady_set_convert_kernel(int32_t mode) { g_convert_cap.store(mode == 1 || mode == 2 ? mode : 0); }

extern "C" const char* lady_convert_kernel_name(void) { return paths(g_convert_cap.load()).name; }

namespace {

int32_t convert(const char* who, ConvertFn Paths::*path, int64_t src, int64_t dst, int64_t dst_offset, int64_t n) {
    int32_t st = lady::validate_convert(who, src, dst, dst_offset, n);
    if (st != LADY_OK) return st;
    (paths(g_convert_cap.load(std::memory_order_relaxed)).*path)(reinterpret_cast<const uint16_t*>(src),
                                                                  reinterpret_cast<float*>(dst) + dst_offset, n);
    return lady_ok();
}

}  // namespace

extern "C" int32_t lady_bf16_to_float_cpu(int64_t src, int64_t dst, int64_t dst_offset, int64_t n) {
    return convert("bf16_to_float_cpu", &Paths::bf16, src, dst, dst_offset, n);
}

extern "C" int32_t lady_f16_to_float_cpu(int64_t src, int64_t dst, int64_t dst_offset, int64_t n) {
    return convert("f16_to_float_cpu", &Paths::f16, src, dst, dst_offset, n);
}
