// Stub compiled when CUDA is off (no nvcc, or -Dlady.cuda=OFF): the same symbols as native/cuda/,
// each saying "built without CUDA". Keep it in step with the *_cuda declarations of lady.h.
#include "lady_internal.h"

#define LADY_NO_CUDA_MESSAGE "built without CUDA (no nvcc found at build time, or CUDA turned off)"

extern "C" {

int32_t lady_cuda_compiled(void) { return 0; }

const char* lady_cuda_architectures(void) { return ""; }

int32_t lady_cuda_device_count(int32_t* count) {
    if (count) *count = 0;
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_cuda_device_name(int32_t, char* buf, int32_t len) {
    if (buf && len > 0) buf[0] = '\0';
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_permute_cuda(int32_t, const int64_t*, const int64_t*, const int64_t*, const int64_t*, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_permute_tensors_cuda(int32_t, const int64_t*, const int64_t*, const int64_t*, const int64_t*, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_normalize_rows_cuda(int64_t, int64_t, int64_t, int64_t, int32_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_cosine_similarity_cuda(int64_t, int64_t, int64_t, int64_t, int64_t, int32_t, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_cosine_similarity_bf16_cuda(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_argmax_top2_cuda(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_topk_cuda(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_sort_desc_cuda(int64_t, int64_t, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

int32_t lady_assign_cuda(int64_t, int64_t, int64_t) {
    return lady_fail(LADY_ERR_NO_CUDA, LADY_NO_CUDA_MESSAGE);
}

}  // extern "C"
