// Host memory for checkpoints: copy-on-write file mappings and anonymous buffers (lady.h, "host memory").
#include "lady_internal.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {
// Buffers at least this large are advised to use transparent huge pages (fewer first-touch faults).
constexpr int64_t kHugePageAdviceBytes = int64_t(4) << 20;
// Buffers at least this large are anonymous mappings (returned to the system when freed); smaller
// ones come from the heap, so that many small tensors do not use up the process's mapping count.
constexpr int64_t kMappedAllocBytes = int64_t(1) << 20;
constexpr size_t kAlignment = 64;
}  // namespace

extern "C" {

int32_t lady_map_file(const char* path, int64_t* address, int64_t* length) {
    if (path == nullptr || address == nullptr || length == nullptr) {
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "lady_map_file: null argument");
    }
    *address = 0;
    *length = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "cannot open %s: %s", path, std::strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "cannot stat %s: %s", path, std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "%s is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return lady_ok();
    }
    // MAP_PRIVATE: a page written through the mapping becomes a private copy; the file is never written.
    // MAP_NORESERVE: no swap is reserved for pages that are never written.
    void* p = mmap(nullptr, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    int e = errno;
    close(fd);  // the mapping keeps the file
    if (p == MAP_FAILED) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "cannot map %s (%lld bytes): %s", path, (long long)st.st_size,
                         std::strerror(e));
    }
    *address = (int64_t)(intptr_t)p;
    *length = (int64_t)st.st_size;
    return lady_ok();
}

int32_t lady_alloc(int64_t bytes, int64_t* address) {
    if (address == nullptr || bytes < 0) {
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "lady_alloc: bad arguments");
    }
    *address = 0;
    if (bytes == 0) {
        return lady_ok();
    }
    if (bytes < kMappedAllocBytes) {
        void* p = nullptr;
        if (posix_memalign(&p, kAlignment, (size_t)bytes) != 0 || p == nullptr) {
            return lady_fail(LADY_ERR_OUT_OF_MEMORY, "cannot allocate %lld bytes of host memory", (long long)bytes);
        }
        std::memset(p, 0, (size_t)bytes);
        *address = (int64_t)(intptr_t)p;
        return lady_ok();
    }
    void* p = mmap(nullptr, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return lady_fail(LADY_ERR_OUT_OF_MEMORY, "cannot allocate %lld bytes of host memory: %s", (long long)bytes,
                         std::strerror(errno));
    }
#ifdef MADV_HUGEPAGE
    if (bytes >= kHugePageAdviceBytes) {
        madvise(p, (size_t)bytes, MADV_HUGEPAGE);  // advice only: failure changes nothing
    }
#endif
    *address = (int64_t)(intptr_t)p;
    return lady_ok();
}

int32_t lady_free(int64_t address, int64_t bytes) {
    if (address == 0 || bytes == 0) {
        return lady_ok();
    }
    if (bytes < 0) {
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "lady_free: negative length");
    }
    if (bytes < kMappedAllocBytes) {
        std::free((void*)(intptr_t)address);
        return lady_ok();
    }
    return lady_unmap(address, bytes);
}

int32_t lady_unmap(int64_t address, int64_t length) {
    if (address == 0 || length == 0) {
        return lady_ok();
    }
    if (length < 0) {
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "lady_unmap: negative length");
    }
    if (munmap((void*)(intptr_t)address, (size_t)length) != 0) {
        return lady_fail(LADY_ERR_INVALID_ARGUMENT, "munmap failed: %s", std::strerror(errno));
    }
    return lady_ok();
}

}  // extern "C"
