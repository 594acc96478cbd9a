/*
 * lady.h: the one C ABI of Lady's native kernels.
 *
 * Every kernel exists in up to three versions with the same signature:
 *   *_ref   the plain reference (native/reference/): obviously correct, slow, never optimized;
 *   *_cpu   the optimized CPU version (native/cpu/): threads, cache blocking, vector units;
 *   *_cuda  the CUDA version (native/cuda/); when the library is built without CUDA a stub gives
 *           the same symbols and returns LADY_ERR_NO_CUDA with the message "built without CUDA".
 * The CPU and CUDA versions are tested against the reference: indices exactly, floats within the
 * tolerances named in the Java class lady.kernels.Tolerances.
 *
 * Rules of this ABI:
 *  - every kernel returns an int status (LADY_OK = 0); a non-zero status comes with a message
 *    readable through lady_last_error() on the same thread. Native code never prints or exits.
 *  - tensors are passed as raw addresses (int64) of host memory, with explicit sizes. The CUDA
 *    versions also take host memory: they move the data to the device and back themselves.
 *  - arguments are validated natively too (defence in depth); the Java side validates first so
 *    that its messages name the tensors.
 */
#ifndef LADY_H
#define LADY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes -------------------------------------------------------------------------- */
#define LADY_OK 0
#define LADY_ERR_INVALID_ARGUMENT 1 /* null pointer, negative or inconsistent size */
#define LADY_ERR_NOT_PERMUTATION 2  /* an index array that is not a permutation of 0..n-1 */
#define LADY_ERR_OUT_OF_MEMORY 3    /* host or device allocation failed */
#define LADY_ERR_NO_CUDA 4          /* built without CUDA, or no usable GPU */
#define LADY_ERR_CUDA 5             /* a CUDA runtime call failed */
#define LADY_ERR_INTERNAL 6         /* a bug: an invariant did not hold */

/* The message of the last failed call on this thread ("" when none). */
const char* lady_last_error(void);

/* ---- library facts ------------------------------------------------------------------------- */
const char* lady_native_version(void);
/* CPU features: what the running CPU supports, what the kernels were compiled to use, and the cap below. */
const char* lady_cpu_features(void);
/* The most capable vector paths the CPU kernels may choose, from the environment variable LADY_MAX_CPU_ISA,
 * read once (as oneDNN reads ONEDNN_MAX_CPU_ISA; a way to run an AVX-512 machine's kernels as an AVX2-only
 * machine's): 0 no cap (unset, empty or "AVX512"), 1 "AVX2" (AVX2 + FMA paths at most), 2 "SCALAR" (the
 * portable paths); case-insensitive. -1 when it holds anything else: the kernels then apply no cap and the
 * Java side refuses to start with a message. A kernel path the CPU lacks is never chosen, cap or not. */
int32_t lady_max_cpu_isa(void);
/* Threads used by the *_cpu kernels (default: hardware concurrency). n <= 0 restores the default. */
void lady_set_num_threads(int32_t n);
int32_t lady_get_num_threads(void);

/* 1 when the CUDA kernels were compiled in, 0 for the stub. */
int32_t lady_cuda_compiled(void);
/* The CUDA architectures compiled in, e.g. "80;90" ("" for the stub). */
const char* lady_cuda_architectures(void);
/* Number of usable GPUs into *count (0 with LADY_ERR_NO_CUDA and a reason when none). */
int32_t lady_cuda_device_count(int32_t* count);
/* Name of GPU `device` written into buf (NUL-terminated, at most len bytes). */
int32_t lady_cuda_device_name(int32_t device, char* buf, int32_t len);

/* ---- kernel 1: batched permutation ----------------------------------------------------------
 * Applies one permutation `perm` of size n, in place, to `count` tensors at once. Tensor t is seen
 * as a contiguous array of shape [outer[t], n, row_bytes[t] bytes]: the permuted axis has size n;
 * every axis before it is folded into outer[t]; every axis after it, times the element size, into
 * row_bytes[t]. The block form (conv -> flatten -> linear, one neuron owning a contiguous block of
 * columns) is the same thing with the block folded into the row.
 * Convention (method.md section 2): new neuron j is old neuron perm[j], i.e. for every o and j,
 *   after[o, j, :] = before[o, perm[j], :].
 * The permutation is validated (each of 0..n-1 exactly once) before any byte is written.
 */
int32_t lady_permute_ref(int32_t count, const int64_t* addresses, const int64_t* outer,
                         const int64_t* row_bytes, const int64_t* perm, int64_t n);
int32_t lady_permute_cpu(int32_t count, const int64_t* addresses, const int64_t* outer,
                         const int64_t* row_bytes, const int64_t* perm, int64_t n);
int32_t lady_permute_cuda(int32_t count, const int64_t* addresses, const int64_t* outer,
                          const int64_t* row_bytes, const int64_t* perm, int64_t n);

/* ---- kernel 2: whole-network permutation, two axes per tensor ------------------------------
 * Permutes `count` tensors in place in one call, each with its own optional permutation of axis 0
 * and optional permutation of axis 1 (a tensor can belong to two groups: producer of one, consumer
 * of the next). Tensor t is contiguous and seen as [rows, n1 * block, inner]:
 *   dims[4t + 0] = rows         size of axis 0
 *   dims[4t + 1] = n1           neurons along axis 1, each owning `block` consecutive indices
 *   dims[4t + 2] = block        (49 for torchvision VGG16's classifier.0; 1 normally)
 *   dims[4t + 3] = inner_bytes  product of the sizes after axis 1, times the element size
 * (a 1-D tensor of size N is {N, 1, 1, element size}). The permutations lie end to end in
 * `perms` (perms_length values, shareable between tensors): perm_offsets[2t] is the offset of
 * tensor t's axis-0 permutation (rows values), perm_offsets[2t + 1] of its axis-1 permutation (n1
 * values); -1 means none (identity). With p0 and p1 those permutations, method.md section 2:
 *   after[i, j * block + k, r] = before[p0[i], p1[j] * block + k, r].
 * Every permutation is validated (each of 0..size-1 once) before any byte is written. Tensors
 * must not overlap. The CPU version reads and writes each byte once (plus one row per permutation
 * cycle segment), which is what a plain copy costs.
 */
int32_t lady_permute_tensors_ref(int32_t count, const int64_t* addresses, const int64_t* dims,
                                 const int64_t* perm_offsets, const int64_t* perms, int64_t perms_length);
int32_t lady_permute_tensors_cpu(int32_t count, const int64_t* addresses, const int64_t* dims,
                                 const int64_t* perm_offsets, const int64_t* perms, int64_t perms_length);
int32_t lady_permute_tensors_cuda(int32_t count, const int64_t* addresses, const int64_t* dims,
                                  const int64_t* perm_offsets, const int64_t* perms, int64_t perms_length);

/* ---- kernel 2: similarity (method.md section 4) -------------------------------------------
 * Matrices are dense, row-major float32 at host addresses. A row of dimension d is normalized as
 * u = x / max(||x||_2, 1e-12) (torch.nn.functional.normalize); with centered != 0 the row mean is
 * subtracted first (Pearson correlation, for activations). A zero row gives a zero vector.
 *   normalize_rows:     out[rows x d] = normalized in[rows x d] (out may equal in).
 *   cosine_similarity:  out[n x m], out[i, j] = <u_a[i], u_b[j]>, a is [n x d], b is [m x d].
 * The reference works in double and rounds the result to float; the CPU and CUDA versions
 * accumulate in float (CUDA: FMA in a shared-memory tiled product, no cuBLAS). */
int32_t lady_normalize_rows_ref(int64_t in, int64_t out, int64_t rows, int64_t d, int32_t centered);
int32_t lady_normalize_rows_cpu(int64_t in, int64_t out, int64_t rows, int64_t d, int32_t centered);
int32_t lady_normalize_rows_cuda(int64_t in, int64_t out, int64_t rows, int64_t d, int32_t centered);
int32_t lady_cosine_similarity_ref(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int32_t centered,
                                   int64_t out);
int32_t lady_cosine_similarity_cpu(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int32_t centered,
                                   int64_t out);
int32_t lady_cosine_similarity_cuda(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int32_t centered,
                                    int64_t out);

/* Cosine similarity of bfloat16 rows (raw uint16, row-major, a [n x d], b [m x d]) with float32
 * accumulation; the caller gives the rows' inverse norms (inv_a[n], inv_b[m], double; computed in double
 * from the same bfloat16 values, so the normalization is exact to float rounding):
 *   out[i, j] = (float)(<a_i, b_j> * inv_a[i] * inv_b[j])   (out float32 [n x m]).
 * The products of bfloat16 values are exact in float32, so the result is the float32 kernel's on the
 * widened rows up to summation order (Tolerances.F32_MAX_REL_ERR). The reference works in double. The CPU
 * version uses vdpbf16ps where the CPU has AVX512-BF16, else widens to float32 for the float micro-kernels;
 * lady_set_bf16_kernel(1) forces the widening (0 restores the default), lady_bf16_kernel_name() names the
 * one in use. The CUDA version widens the rows on the device and runs the float32 tiled product.
 * Summation (CPU; a contract that error bounds rest on, Kernels.bf16SumAdditions): the products are summed in
 * float32 in depth blocks of 256 to 512 (the last one of a row may be shorter), each block's sum added to the
 * output's running sum, so no product passes through more than 512 + ceil(d / 256) float additions; then one
 * multiplication by the inverse norms in double, rounded to float once. */
int32_t lady_cosine_similarity_bf16_ref(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int64_t inv_a,
                                        int64_t inv_b, int64_t out);
int32_t lady_cosine_similarity_bf16_cpu(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int64_t inv_a,
                                        int64_t inv_b, int64_t out);
int32_t lady_cosine_similarity_bf16_cuda(int64_t a, int64_t b, int64_t n, int64_t m, int64_t d, int64_t inv_a,
                                         int64_t inv_b, int64_t out);
void lady_set_bf16_kernel(int32_t mode);
const char* lady_bf16_kernel_name(void);

/* ---- kernel 3: ranking ------------------------------------------------------------------------
 * Order used by all three: larger value first, ties by lower index. NaN inputs are refused.
 *   argmax_top2: per row of s[n x m] (m >= 1): index[i] (int32) of the best column, best[i] its
 *                value, second[i] the largest value among the other columns (-inf when m == 1).
 *   topk:        per row, the k (1 <= k <= m) best columns in order: indices[n x k] (int32),
 *                values[n x k] (float32).
 *   sort_desc:   order[n] (int32): indices of scores[n] sorted by score descending, stable (ties
 *                by lower index): the canonical order of method.md section 5. */
int32_t lady_argmax_top2_ref(int64_t s, int64_t n, int64_t m, int64_t index, int64_t best, int64_t second);
int32_t lady_argmax_top2_cpu(int64_t s, int64_t n, int64_t m, int64_t index, int64_t best, int64_t second);
int32_t lady_argmax_top2_cuda(int64_t s, int64_t n, int64_t m, int64_t index, int64_t best, int64_t second);
int32_t lady_topk_ref(int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices, int64_t values);
int32_t lady_topk_cpu(int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices, int64_t values);
int32_t lady_topk_cuda(int64_t s, int64_t n, int64_t m, int64_t k, int64_t indices, int64_t values);
int32_t lady_sort_desc_ref(int64_t scores, int64_t n, int64_t order);
int32_t lady_sort_desc_cpu(int64_t scores, int64_t n, int64_t order);
int32_t lady_sort_desc_cuda(int64_t scores, int64_t n, int64_t order);

/* ---- kernel 4: exact linear assignment ---------------------------------------------------------
 * For a square float32 matrix s[n x n] (finite values; NaN or infinity refused), writes perm[n]
 * (int32), a permutation maximizing sum_i s[i, perm[i]] (row i -> column perm[i]).
 *   ref:  plain O(n^3) Hungarian algorithm (potentials, double precision).
 *   cpu:  Jonker-Volgenant shortest augmenting paths in double precision, started from the greedy
 *         assignment of row argmaxes (near-permutation resync problems leave few rows to augment).
 *   cuda: auction algorithm with epsilon scaling on the matrix quantized to integers; exactly
 *         optimal for the quantized matrix, hence within n * (max - min) / levels of the optimum of
 *         the float matrix (levels = floor(2^32 / (n + 1)); see native/cuda/assign_cuda.cu). */
int32_t lady_assign_ref(int64_t s, int64_t n, int64_t perm);
int32_t lady_assign_cpu(int64_t s, int64_t n, int64_t perm);
int32_t lady_assign_cuda(int64_t s, int64_t n, int64_t perm);

/* ---- kernel 5: gather (checkpoint writing and similarity reads of lazily permuted tensors) ------
 * src is a contiguous array [rows, n1, unit_bytes bytes]; p0 (rows values) and p1 (n1 values) are
 * index maps (NULL: identity), values in range (not necessarily permutations). Writes rows
 * [row_begin, row_end) of the gathered array into dst (contiguous, (row_end - row_begin) rows):
 *   dst[i - row_begin, j, :] = src[p0[i], p1[j], :]
 * src and dst must not overlap. Every index read is validated before any byte is written. The CPU
 * version splits the rows over threads (one memcpy per row without p1). */
int32_t lady_gather_rows_ref(int64_t src, int64_t dst, int64_t rows, int64_t n1, int64_t unit_bytes,
                             const int64_t* p0, const int64_t* p1, int64_t row_begin, int64_t row_end);
int32_t lady_gather_rows_cpu(int64_t src, int64_t dst, int64_t rows, int64_t n1, int64_t unit_bytes,
                             const int64_t* p0, const int64_t* p1, int64_t row_begin, int64_t row_end);

/* ---- kernel 6: half precision to float32 (the checkpoint read path: HostTensor's reads) -------------
 * Converts n values of raw bfloat16 (bf16) or IEEE half (f16) bits at src (uint16, any alignment) into
 * float32 at dst + 4 * dst_offset (dst_offset lets a caller address a Java array at any start):
 *   bf16: the bits shifted into the upper half of a float32 (exact, NaN payloads unchanged);
 *   f16:  exact, as Java's HostTensor.float16ToFloat: subnormals, signed zeros, infinities, and NaN as
 *         sign | 0x7F800000 | mant << 13 (a signaling NaN stays signaling).
 * So every version gives the same bits. src and dst must not overlap. One thread (callers read from
 * their own threads). The CPU version uses AVX-512F (16 values per instruction; vcvtph2ps for f16, its
 * NaNs rewritten as above), else AVX2 (+ F16C for f16: 8 values), else the scalar loop, and a scalar
 * tail; lady_set_convert_kernel(mode) caps the path (0: best available, 1: AVX2 at most, 2: scalar),
 * lady_convert_kernel_name() names the bf16 path in use ("avx512f", "avx2" or "scalar"). No CUDA
 * version: the values are read on the host, where the data is. */
int32_t lady_bf16_to_float_ref(int64_t src, int64_t dst, int64_t dst_offset, int64_t n);
int32_t lady_bf16_to_float_cpu(int64_t src, int64_t dst, int64_t dst_offset, int64_t n);
int32_t lady_f16_to_float_ref(int64_t src, int64_t dst, int64_t dst_offset, int64_t n);
int32_t lady_f16_to_float_cpu(int64_t src, int64_t dst, int64_t dst_offset, int64_t n);
void lady_set_convert_kernel(int32_t mode);
const char* lady_convert_kernel_name(void);

/* ---- host memory (no kernel): the checkpoint readers' and writers' memory ----------------------
 *   map_file: maps the whole regular file at `path` (NUL-terminated) copy-on-write (MAP_PRIVATE,
 *             readable and writable): a page written through the mapping becomes a private copy,
 *             the file itself is never written. *address and *length receive the mapping (the
 *             file size; an empty file gives 0 and 0). Release it with lady_unmap.
 *   alloc:    `bytes` of zeroed memory, 64-byte aligned (from 1 MiB on an anonymous mapping, and
 *             from 4 MiB on advised to use transparent huge pages). Release it with lady_free.
 *   free:     releases what alloc returned (same address and length).
 *   unmap:    releases what map_file returned (same address and length). */
int32_t lady_map_file(const char* path, int64_t* address, int64_t* length);
int32_t lady_alloc(int64_t bytes, int64_t* address);
int32_t lady_free(int64_t address, int64_t bytes);
int32_t lady_unmap(int64_t address, int64_t length);

#ifdef __cplusplus
}
#endif

#endif /* LADY_H */
