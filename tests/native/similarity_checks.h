// The similarity checks, run by similarity_test (CPU) and similarity_cuda_test (CUDA).
#ifndef LADY_SIMILARITY_CHECKS_H
#define LADY_SIMILARITY_CHECKS_H

#include "resync_test_util.h"

namespace resync_test {

inline int check_similarity(const Backend& be, int seeds) {
    const Backend ref = reference();
    for (uint64_t seed = 1; seed <= (uint64_t)seeds; ++seed) {
        std::mt19937_64 rng(seed);
        const int64_t n = 1 + (int64_t)(rng() % 90), m = 1 + (int64_t)(rng() % 90);
        const int64_t d = (int64_t)(rng() % 300);  // 0 included: all-zero rows
        const int32_t centered = (int32_t)(seed % 2);
        std::vector<float> a = random_matrix(n, d, rng), b = random_matrix(m, d, rng);
        if (d > 3 && seed % 3 == 0) {  // a zero row and a constant row (zero after centering)
            for (int64_t k = 0; k < d; ++k) a[(size_t)k] = 0.f;
            for (int64_t k = 0; k < d; ++k) b[(size_t)k] = 2.5f;
        }
        std::vector<float> sr((size_t)(n * m)), sc((size_t)(n * m), -7.f);
        if (ref.cosine(addr(a), addr(b), n, m, d, centered, addr(sr))) return fail(ref.name, "cosine", seed, n, m);
        if (be.cosine(addr(a), addr(b), n, m, d, centered, addr(sc))) return fail(be.name, "cosine", seed, n, m);
        for (size_t q = 0; q < sr.size(); ++q)
            if (!close(sc[q], sr[q], kF32MaxRelErr)) {
                std::fprintf(stderr, "element %zu: %s %.9g vs reference %.9g (d %lld, centered %d)\n", q, be.name,
                             sc[q], sr[q], (long long)d, centered);
                return fail(be.name, "cosine differs from reference", seed, n, m);
            }
        std::vector<float> ur((size_t)(n * d)), uc((size_t)(n * d));
        if (ref.normalize(addr(a), addr(ur), n, d, centered)) return fail(ref.name, "normalize", seed, n, d);
        if (be.normalize(addr(a), addr(uc), n, d, centered)) return fail(be.name, "normalize", seed, n, d);
        for (size_t q = 0; q < ur.size(); ++q)
            if (!close(uc[q], ur[q], kF32MaxRelErr)) return fail(be.name, "normalize differs from reference", seed, n, d);
    }
    // A larger product crossing every blocking boundary (depth > 256, columns > 2048 not needed).
    {
        std::mt19937_64 rng(1234);
        const int64_t n = 131, m = 257, d = 600;
        std::vector<float> a = random_matrix(n, d, rng), b = random_matrix(m, d, rng);
        std::vector<float> sr((size_t)(n * m)), sc((size_t)(n * m));
        if (ref.cosine(addr(a), addr(b), n, m, d, 0, addr(sr)) || be.cosine(addr(a), addr(b), n, m, d, 0, addr(sc)))
            return fail(be.name, "large cosine", 1234, n, m);
        for (size_t q = 0; q < sr.size(); ++q)
            if (!close(sc[q], sr[q], kF32MaxRelErr)) return fail(be.name, "large cosine differs", 1234, n, m);
    }
    // Bad input refused.
    {
        std::vector<float> a(4, 1.f), o(4);
        if (be.cosine(addr(a), addr(a), -1, 2, 2, 0, addr(o)) != LADY_ERR_INVALID_ARGUMENT)
            return fail(be.name, "negative size accepted", 0, -1);
        if (be.cosine(0, addr(a), 2, 2, 2, 0, addr(o)) != LADY_ERR_INVALID_ARGUMENT)
            return fail(be.name, "null matrix accepted", 0, 2);
    }
    return 0;
}

}  // namespace resync_test

#endif
