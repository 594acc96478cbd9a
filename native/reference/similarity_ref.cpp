// Reference similarity: row normalization and the cosine matrix, plain loops in double precision
// (decision: double, so the reference is the most accurate version and float versions are judged
// against it with Tolerances.F32_MAX_REL_ERR). Output rounded to float once, at the end.
#include <cstring>
#include <new>
#include <vector>

#include "resync_common.h"
#include "resync_internal.h"

namespace {

// Normalized (optionally centered) rows of x[rows x d], in double.
void normalized_rows(const float* x, int64_t rows, int64_t d, int32_t centered, std::vector<double>& u) {
    u.assign((size_t)(rows * d), 0.0);
    for (int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * d;
        double mean = 0.0;
        if (centered && d > 0) {
            for (int64_t k = 0; k < d; ++k) mean += r[k];
            mean /= (double)d;
        }
        double ss = 0.0;
        for (int64_t k = 0; k < d; ++k) ss += (r[k] - mean) * (r[k] - mean);
        const double inv = lady_inv_norm(ss);
        for (int64_t k = 0; k < d; ++k) u[(size_t)(i * d + k)] = (r[k] - mean) * inv;
    }
}

}  // namespace

extern "C" int32_t lady_normalize_rows_ref(int64_t in, int64_t out, int64_t rows, int64_t d, int32_t centered) {
    int32_t st = lady_validate_normalize("normalize_rows_ref", in, out, rows, d);
    if (st != LADY_OK) return st;
    try {
        std::vector<double> u;
        normalized_rows(reinterpret_cast<const float*>(in), rows, d, centered, u);
        float* o = reinterpret_cast<float*>(out);
        for (int64_t i = 0; i < rows * d; ++i) o[i] = (float)u[(size_t)i];
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "normalize_rows_ref: cannot allocate %lld doubles",
                         (long long)(rows * d));
    }
    return lady_ok();
}

extern "C" int32_t lady_cosine_similarity_ref(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                              int32_t centered, int64_t out) {
    int32_t st = lady_validate_similarity("cosine_similarity_ref", a, b, n, m, d, out);
    if (st != LADY_OK) return st;
    try {
        std::vector<double> ua, ub;
        normalized_rows(reinterpret_cast<const float*>(a), n, d, centered, ua);
        normalized_rows(reinterpret_cast<const float*>(b), m, d, centered, ub);
        float* o = reinterpret_cast<float*>(out);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < m; ++j) {
                double s = 0.0;
                for (int64_t k = 0; k < d; ++k) s += ua[(size_t)(i * d + k)] * ub[(size_t)(j * d + k)];
                o[i * m + j] = (float)s;
            }
    } catch (const std::bad_alloc&) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "cosine_similarity_ref: cannot allocate the normalized rows");
    }
    return lady_ok();
}

extern "C" int32_t lady_cosine_similarity_bf16_ref(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int64_t inv_a,
                                                   int64_t inv_b, int64_t out) {
    int32_t st = lady_validate_similarity_bf16("cosine_similarity_bf16_ref", a, b, n, m, d, inv_a, inv_b, out);
    if (st != LADY_OK) return st;
    const uint16_t* xa = reinterpret_cast<const uint16_t*>(a);
    const uint16_t* xb = reinterpret_cast<const uint16_t*>(b);
    const double* ia = reinterpret_cast<const double*>(inv_a);
    const double* ib = reinterpret_cast<const double*>(inv_b);
    float* o = reinterpret_cast<float*>(out);
    auto widen = [](uint16_t h) { return (double)lady_bf16_bits_to_float(h); };
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) {
            double s = 0.0;
            for (int64_t k = 0; k < d; ++k) s += widen(xa[i * d + k]) * widen(xb[j * d + k]);
            o[i * m + j] = (float)(s * ia[i] * ib[j]);
        }
    return lady_ok();
}
