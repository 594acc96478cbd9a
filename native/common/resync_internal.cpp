// Validation shared by the reference, CPU and CUDA versions of the resync kernels.
#include "resync_internal.h"

#include <cmath>
#include <vector>

namespace {

// Row and column counts are int32-indexed in the outputs (indices are int32).
constexpr int64_t kMaxIndex = 2147483647;

int32_t check_sizes(const char* kernel, const char* what, int64_t rows, int64_t cols) {
    if (rows < 0 || cols < 0)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: %s has a negative size (%lld x %lld)", kernel, what,
                         (long long)rows, (long long)cols);
    if (rows > kMaxIndex || cols > kMaxIndex)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: %s is too large (%lld x %lld; indices are int32)", kernel,
                         what, (long long)rows, (long long)cols);
    return LADY_OK;
}

int32_t check_address(const char* kernel, const char* what, int64_t address, int64_t elements) {
    if (elements > 0 && address == 0)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: %s has a null address", kernel, what);
    return LADY_OK;
}

int32_t check_nan(const char* kernel, const char* what, int64_t address, int64_t rows, int64_t cols,
                  int32_t reject_infinite) {
    int64_t r = 0, c = 0;
    if (lady_find_bad_value(reinterpret_cast<const float*>(address), rows, cols, reject_infinite, &r, &c))
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: %s has a %s value at row %lld, column %lld", kernel, what,
                         reject_infinite ? "non-finite" : "NaN", (long long)r, (long long)c);
    return LADY_OK;
}

}  // namespace

extern "C" {

int32_t lady_find_bad_value(const float* x, int64_t rows, int64_t cols, int32_t reject_infinite, int64_t* row,
                            int64_t* col) {
    for (int64_t i = 0; i < rows; ++i) {
        const float* r = x + i * cols;
        // cheap vectorizable screen of the row first, then locate
        bool bad = false;
        if (reject_infinite) {
            for (int64_t j = 0; j < cols; ++j) bad |= !(std::fabs(r[j]) <= 3.402823466e38f);
        } else {
            for (int64_t j = 0; j < cols; ++j) bad |= (r[j] != r[j]);
        }
        if (!bad) continue;
        for (int64_t j = 0; j < cols; ++j) {
            if (r[j] != r[j] || (reject_infinite && std::isinf(r[j]))) {
                *row = i;
                *col = j;
                return 1;
            }
        }
    }
    return 0;
}

int32_t lady_is_permutation32(const int32_t* perm, int64_t n) {
    std::vector<unsigned char> seen((size_t)n, 0);
    for (int64_t i = 0; i < n; ++i) {
        const int32_t v = perm[i];
        if (v < 0 || v >= n || seen[(size_t)v]) return 0;
        seen[(size_t)v] = 1;
    }
    return 1;
}

int32_t lady_validate_normalize(const char* kernel, int64_t in, int64_t out, int64_t rows, int64_t d) {
    int32_t st = check_sizes(kernel, "input", rows, d);
    if (st == LADY_OK) st = check_address(kernel, "input", in, rows * d);
    if (st == LADY_OK) st = check_address(kernel, "output", out, rows * d);
    return st;
}

int32_t lady_validate_similarity(const char* kernel, int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                 int64_t out) {
    int32_t st = check_sizes(kernel, "matrix a", n, d);
    if (st == LADY_OK) st = check_sizes(kernel, "matrix b", m, d);
    if (st == LADY_OK) st = check_address(kernel, "matrix a", a, n * d);
    if (st == LADY_OK) st = check_address(kernel, "matrix b", b, m * d);
    if (st == LADY_OK) st = check_address(kernel, "output", out, n * m);
    return st;
}

int32_t lady_validate_similarity_bf16(const char* kernel, int64_t a, int64_t b, int64_t n, int64_t m, int64_t d,
                                      int64_t inv_a, int64_t inv_b, int64_t out) {
    int32_t st = lady_validate_similarity(kernel, a, b, n, m, d, out);
    if (st == LADY_OK) st = check_address(kernel, "inverse norms of a", inv_a, n);
    if (st == LADY_OK) st = check_address(kernel, "inverse norms of b", inv_b, m);
    return st;
}

int32_t lady_validate_argmax(const char* kernel, int64_t s, int64_t n, int64_t m, int64_t index, int64_t best,
                             int64_t second) {
    int32_t st = check_sizes(kernel, "matrix", n, m);
    if (st != LADY_OK) return st;
    if (n > 0 && m == 0)
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: rows have no columns (%lld x 0)", kernel, (long long)n);
    st = check_address(kernel, "matrix", s, n * m);
    if (st == LADY_OK) st = check_address(kernel, "index output", index, n);
    if (st == LADY_OK) st = check_address(kernel, "best output", best, n);
    if (st == LADY_OK) st = check_address(kernel, "second output", second, n);
    if (st == LADY_OK) st = check_nan(kernel, "matrix", s, n, m, 0);
    return st;
}

int32_t lady_validate_topk(const char* kernel, int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices,
                           int64_t values) {
    int32_t st = check_sizes(kernel, "matrix", n, m);
    if (st != LADY_OK) return st;
    if (n > 0 && (k < 1 || k > m))
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s: k = %lld is outside 1..%lld (the number of columns)", kernel,
                         (long long)k, (long long)m);
    st = check_address(kernel, "matrix", s, n * m);
    if (st == LADY_OK) st = check_address(kernel, "indices output", indices, n * k);
    if (st == LADY_OK) st = check_address(kernel, "values output", values, n * k);
    if (st == LADY_OK) st = check_nan(kernel, "matrix", s, n, m, 0);
    return st;
}

int32_t lady_validate_sort(const char* kernel, int64_t scores, int64_t n, int64_t order) {
    int32_t st = check_sizes(kernel, "scores", 1, n);
    if (st == LADY_OK) st = check_address(kernel, "scores", scores, n);
    if (st == LADY_OK) st = check_address(kernel, "order output", order, n);
    if (st == LADY_OK) st = check_nan(kernel, "scores", scores, 1, n, 0);
    return st;
}

int32_t lady_validate_assign(const char* kernel, int64_t s, int64_t n, int64_t perm, int32_t check_values) {
    int32_t st = check_sizes(kernel, "matrix", n, n);
    if (st == LADY_OK) st = check_address(kernel, "matrix", s, n * n);
    if (st == LADY_OK) st = check_address(kernel, "permutation output", perm, n);
    if (st == LADY_OK && check_values) st = check_nan(kernel, "matrix", s, n, n, 1);
    return st;
}

}  // extern "C"
