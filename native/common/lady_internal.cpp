// Errors, validation and library facts shared by every backend.
#include "lady_internal.h"

#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <atomic>

namespace {
thread_local char g_last_error[1024] = {0};
std::atomic<int32_t> g_threads{0};
}  // namespace

extern "C" {

int32_t lady_fail(int32_t code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    return code;
}

int32_t lady_ok(void) {
    g_last_error[0] = '\0';
    return LADY_OK;
}

const char* lady_last_error(void) { return g_last_error; }

const char* lady_native_version(void) { return LADY_NATIVE_VERSION; }

void lady_set_num_threads(int32_t n) { g_threads.store(n > 0 ? n : 0); }

int32_t lady_get_num_threads(void) {
    int32_t n = g_threads.load();
    if (n > 0) return n;
    unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : (int32_t)hw;
}

int32_t lady_max_cpu_isa(void) {
    static const int32_t cap = [] {
        const char* v = std::getenv("LADY_MAX_CPU_ISA");
        std::string s;
        for (const char* c = v == nullptr ? "" : v; *c != '\0'; c++) s += (char)std::toupper((unsigned char)*c);
        if (s.empty() || s == "AVX512") return 0;
        if (s == "AVX2") return 1;
        if (s == "SCALAR") return 2;
        return -1;
    }();
    return cap;
}

const char* lady_cpu_features(void) {
    static std::string text = [] {
        std::string s = "runtime:";
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("sse4.2")) s += " sse4.2";
        if (__builtin_cpu_supports("avx")) s += " avx";
        if (__builtin_cpu_supports("avx2")) s += " avx2";
        if (__builtin_cpu_supports("fma")) s += " fma";
        if (__builtin_cpu_supports("avx512f")) s += " avx512f";
#else
        s += " (not x86)";
#endif
        s += "; compiled for:";
#if defined(__AVX512F__)
        s += " avx512f";
#elif defined(__AVX2__)
        s += " avx2";
#elif defined(__SSE2__)
        s += " sse2 (baseline x86-64)";
#else
        s += " generic";
#endif
        static const char* kCaps[] = {"", "; capped at: avx2 (LADY_MAX_CPU_ISA)", "; capped at: scalar (LADY_MAX_CPU_ISA)"};
        int32_t cap = lady_max_cpu_isa();
        s += cap < 0 ? "; LADY_MAX_CPU_ISA not recognized (no cap)" : kCaps[cap];
        return s;
    }();
    return text.c_str();
}

int32_t lady_validate_permute(int32_t count, const int64_t* addresses, const int64_t* outer,
                              const int64_t* row_bytes, const int64_t* perm, int64_t n) {
    if (count < 0) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "permute: negative tensor count %d", count);
    if (n < 0) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "permute: negative permutation size %lld", (long long)n);
    if (count > 0 && (addresses == nullptr || outer == nullptr || row_bytes == nullptr))
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "permute: null tensor description array");
    if (n > 0 && perm == nullptr) return lady_fail(LADY_ERR_INVALID_ARGUMENT, "permute: null permutation");
    for (int32_t t = 0; t < count; ++t) {
        if (outer[t] < 0 || row_bytes[t] < 0)
            return lady_fail(LADY_ERR_INVALID_ARGUMENT, "permute: tensor %d has negative size (outer %lld, row bytes %lld)",
                             t, (long long)outer[t], (long long)row_bytes[t]);
        if (addresses[t] == 0 && outer[t] > 0 && row_bytes[t] > 0 && n > 0)
            return lady_fail(LADY_ERR_INVALID_ARGUMENT, "permute: tensor %d has a null address", t);
    }
    std::vector<unsigned char> seen((size_t)n, 0);
    for (int64_t j = 0; j < n; ++j) {
        int64_t v = perm[j];
        if (v < 0 || v >= n)
            return lady_fail(LADY_ERR_NOT_PERMUTATION, "permute: index %lld at position %lld is outside 0..%lld",
                             (long long)v, (long long)j, (long long)(n - 1));
        if (seen[(size_t)v])
            return lady_fail(LADY_ERR_NOT_PERMUTATION, "permute: index %lld appears twice (again at position %lld)",
                             (long long)v, (long long)j);
        seen[(size_t)v] = 1;
    }
    return LADY_OK;
}

}  // extern "C"
