/*
 * malloc.c: the memory allocator under stress.
 *
 * Thousands of allocations of mixed sizes (16 B to 1 MiB, about 35 MiB in all)
 * filled with per-block patterns and checked for overlap; realloc growth and
 * shrinking preserving contents; frees in random order with the survivors
 * checked; calloc zeroing (also of reused memory) and overflow;
 * aligned_alloc and posix_memalign alignment; malloc(0); a 64 MiB allocation
 * touched page by page, freed, and allocated again; impossible sizes failing
 * with ENOMEM.
 */
#include "check.h"

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#define PLAN 15
#define BLOCKS 4000
#define MEBIBYTE ((size_t)1 << 20)

struct block {
    unsigned char *data;
    size_t size;
    unsigned seed;
};

static struct block blocks[BLOCKS];
static size_t order[BLOCKS];

static uint32_t random_state = 2024;
static uint32_t next_random(void) {
    random_state = random_state * 1103515245u + 12345u;
    return random_state >> 8;
}

/* Mostly small blocks, some medium, a few large; the extremes appear once each. */
static size_t block_size(size_t index) {
    if (index == 0) return MEBIBYTE;
    if (index == 1) return 16;
    if (index % 128 == 127) return 65536 + next_random() % (MEBIBYTE - 65536 + 1);
    if (index % 16 == 15) return 4096 + next_random() % (65536 - 4096 + 1);
    return 16 + next_random() % (4096 - 16 + 1);
}

static unsigned char pattern(unsigned seed, size_t offset) {
    return (unsigned char)(seed + offset * 31 + (offset >> 8));
}

static void fill(struct block *block, size_t from) {
    for (size_t offset = from; offset < block->size; offset++) {
        block->data[offset] = pattern(block->seed, offset);
    }
}

/* The index of the first block whose first `limit` bytes lost their pattern, or -1. */
static long first_damaged(size_t limit) {
    for (size_t index = 0; index < BLOCKS; index++) {
        const struct block *block = &blocks[index];
        size_t size = block->size < limit ? block->size : limit;
        for (size_t offset = 0; block->data != NULL && offset < size; offset++) {
            if (block->data[offset] != pattern(block->seed, offset)) {
                return (long)index;
            }
        }
    }
    return -1;
}

static int allocate_all(void) {
    int failures = 0;
    for (size_t index = 0; index < BLOCKS; index++) {
        struct block *block = &blocks[index];
        if (block->data != NULL) continue;
        block->size = block_size(index);
        block->seed = next_random();
        block->data = malloc(block->size);
        if (block->data == NULL) {
            failures++;
            continue;
        }
        fill(block, 0);
    }
    return failures;
}

static void check_stress(void) {
    int failures = allocate_all();
    check_long("4000 allocations of 16 B to 1 MiB succeed", 0, failures);

    long misaligned = -1;
    for (size_t index = 0; index < BLOCKS; index++) {
        if ((uintptr_t)blocks[index].data % alignof(max_align_t) != 0) misaligned = (long)index;
    }
    check(misaligned < 0, "malloc results are aligned for max_align_t",
          "block %ld at %p is not %zu-aligned", misaligned,
          misaligned < 0 ? NULL : (void *)blocks[misaligned].data, alignof(max_align_t));
    check_long("no allocation overlaps another", -1, first_damaged(SIZE_MAX));

    int realloc_failures = 0;
    for (size_t index = 0; index < BLOCKS; index += 3) {
        struct block *block = &blocks[index];
        size_t old_size = block->size, new_size = old_size * 2 + 13;
        unsigned char *grown = realloc(block->data, new_size);
        if (grown == NULL) { realloc_failures++; continue; }
        block->data = grown;
        block->size = new_size;
        fill(block, old_size); /* the old part must have kept its pattern */
    }
    check(realloc_failures == 0 && first_damaged(SIZE_MAX) < 0, "realloc growth preserves contents",
          "%d reallocations failed; first damaged block %ld", realloc_failures,
          first_damaged(SIZE_MAX));

    for (size_t index = 1; index < BLOCKS; index += 5) {
        struct block *block = &blocks[index];
        size_t new_size = block->size / 2 + 1;
        unsigned char *shrunk = realloc(block->data, new_size);
        if (shrunk == NULL) { realloc_failures++; continue; }
        block->data = shrunk;
        block->size = new_size;
    }
    check(realloc_failures == 0 && first_damaged(SIZE_MAX) < 0,
          "realloc shrinking preserves contents",
          "%d reallocations failed; first damaged block %ld", realloc_failures,
          first_damaged(SIZE_MAX));

    for (size_t index = 0; index < BLOCKS; index++) order[index] = index;
    for (size_t index = BLOCKS - 1; index > 0; index--) {
        size_t other = next_random() % (index + 1), kept = order[index];
        order[index] = order[other];
        order[other] = kept;
    }
    for (size_t step = 0; step < BLOCKS / 2; step++) {
        free(blocks[order[step]].data);
        blocks[order[step]].data = NULL;
    }
    check_long("blocks survive frees of others in random order", -1, first_damaged(SIZE_MAX));

    failures = allocate_all();
    check(failures == 0 && first_damaged(SIZE_MAX) < 0, "freed memory is allocated again",
          "%d allocations failed; first damaged block %ld", failures, first_damaged(SIZE_MAX));
    for (size_t step = 0; step < BLOCKS; step++) {
        free(blocks[order[step]].data);
        blocks[order[step]].data = NULL;
    }
}

static int all_zero(const unsigned char *bytes, size_t size) {
    for (size_t offset = 0; offset < size; offset++) {
        if (bytes[offset] != 0) return 0;
    }
    return 1;
}

static void check_special(void) {
    int zeroed = 1;
    for (int round = 0; round < 100 && zeroed; round++) {
        unsigned char *dirty = malloc(4096);
        if (dirty != NULL) memset(dirty, 0xa5, 4096);
        free(dirty);
        unsigned char *clean = calloc(64, 64);
        zeroed = clean != NULL && all_zero(clean, 4096);
        free(clean);
    }
    unsigned char *large = calloc(1000, 1000);
    zeroed = zeroed && large != NULL && all_zero(large, 1000 * 1000);
    free(large);
    check(zeroed, "calloc returns zeroed memory also when reused", "found a nonzero byte");

    /* errno is read through a volatile pointer: LLVM assumes the malloc family touches only
     * memory the caller cannot see, so clang would otherwise reuse the 0 stored before. */
    volatile int *error = &errno;
    volatile size_t huge = SIZE_MAX / 2;
    *error = 0;
    void *overflow = calloc(huge, 4);
    int calloc_error = *error;
    check(overflow == NULL && calloc_error == ENOMEM, "calloc overflow fails with ENOMEM",
          "expected NULL and ENOMEM, got %p and errno %d", overflow, calloc_error);
    *error = 0;
    void *impossible = malloc(huge * 2 + 1);
    int malloc_error = *error;
    check(impossible == NULL && malloc_error == ENOMEM, "malloc(SIZE_MAX) fails with ENOMEM",
          "expected NULL and ENOMEM, got %p and errno %d", impossible, malloc_error);

    unsigned char *line = aligned_alloc(64, 640), *pages = aligned_alloc(4096, 3 * 4096);
    int aligned = line != NULL && pages != NULL && (uintptr_t)line % 64 == 0 &&
                  (uintptr_t)pages % 4096 == 0;
    if (aligned) {
        memset(line, 1, 640);
        memset(pages, 2, 3 * 4096);
    }
    check(aligned, "aligned_alloc alignment", "expected 64- and 4096-aligned, got %p and %p",
          (void *)line, (void *)pages);
    free(line);
    free(pages);

    void *memaligned = NULL, *untouched = &memaligned;
    int result = posix_memalign(&memaligned, 256, 1000);
    int bad_alignment = posix_memalign(&untouched, 3, 16);
    check(result == 0 && memaligned != NULL && (uintptr_t)memaligned % 256 == 0 &&
              bad_alignment == EINVAL && untouched == &memaligned,
          "posix_memalign alignment and EINVAL", "got %d %p, and %d for alignment 3", result,
          memaligned, bad_alignment);
    free(memaligned);

    void *empty = malloc(0), *other_empty = malloc(0);
    check(empty == NULL || (other_empty != empty), "malloc(0) is NULL or a unique pointer",
          "got %p twice", empty);
    free(empty);
    free(other_empty);

    char *grown = realloc(NULL, 32);
    int realloc_null = grown != NULL;
    if (realloc_null) strcpy(grown, "realloc(NULL) allocates");
    check(realloc_null, "realloc(NULL, n) allocates", "got NULL");
    free(grown);

    size_t size = 64 * MEBIBYTE;
    int round = 0;
    for (; round < 2; round++) {
        unsigned char *big = malloc(size);
        if (big == NULL) break;
        for (size_t offset = 0; offset < size; offset += 4096) big[offset] = (unsigned char)offset;
        big[size - 1] = 0x5a;
        int intact = big[size - 1] == 0x5a && big[4096 * 3] == (unsigned char)(4096 * 3);
        free(big);
        if (!intact) break;
    }
    check(round == 2, "64 MiB allocated written freed and allocated again",
          "round %d of 2 failed", round + 1);
}

int main(void) {
    check_plan("malloc", PLAN);
    check_stress();
    check_special();
    return check_finish();
}
