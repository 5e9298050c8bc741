/*
 * files_concurrent.c: two clients writing at once, and a client killed in the middle of
 * writing, leave the file VFS and its FAT disk consistent (systems/file-concurrency.toml).
 *
 *   files_concurrent writer A|B  appends 200 records to its own ramfs file and, with O_APPEND,
 *                                to one shared file on the FAT disk, yielding between records
 *                                so that the two writers interleave;
 *   files_concurrent crash       holds a 5 MiB ramfs file open after unlinking it, writes
 *                                4 KiB chunks to a FAT file, fsyncs after ten, writes more
 *                                and then faults: the kernel stops it mid-stream;
 *   files_concurrent verify      runs last (lowest priority) and checks every record, the
 *                                crashed file, that the disk still takes new files, and that
 *                                the VFS closed the killed client's files (told by the kernel
 *                                that it ended): its 5 MiB came back to the 8 MiB ramfs.
 * After the boot, `cargo xtask test` also runs fsck.fat on the disk image.
 */
#include "../check.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORDS 200
#define RECORD_SIZE 40
#define CHUNK 4096

static void make_record(char *record, char writer, int number) {
    /* "A007-" then 34 bytes derived from the writer and number, then a newline: 40 bytes. */
    snprintf(record, 6, "%c%03d-", writer, number);
    for (int index = 5; index < RECORD_SIZE - 1; index++)
        record[index] = (char)('a' + (writer * 7 + number * 3 + index) % 26);
    record[RECORD_SIZE - 1] = '\n';
}

static int writer(char name) {
    char own[32];
    snprintf(own, sizeof own, "/tmp/%c.log", name);
    mkdir("/tmp", 0755);
    int private_file = open(own, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    int shared = open("/data/shared.log", O_CREAT | O_WRONLY | O_APPEND, 0644);
    if (private_file < 0 || shared < 0) return 1;
    for (int number = 0; number < RECORDS; number++) {
        char record[RECORD_SIZE];
        make_record(record, name, number);
        if (write(private_file, record, RECORD_SIZE) != RECORD_SIZE) return 1;
        if (write(shared, record, RECORD_SIZE) != RECORD_SIZE) return 1;
        sched_yield();
    }
    fsync(shared);
    close(shared);
    close(private_file);
    return 0;
}

static unsigned char chunk_byte(int chunk, int index) { return (unsigned char)(chunk * 31 + index); }

/* Bytes of the ramfs file the crasher holds (unlinked) when it dies, and the verifier writes
 * after: together more than the VFS's 8 MiB ramfs limit. */
#define HELD (5 << 20)

/* Writes `total` bytes to a new ramfs file at `path`; returns the descriptor or -1. */
static int fill(const char *path, long total) {
    static char block[64 * 1024];
    int descriptor = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    for (long done = 0; descriptor >= 0 && done < total; done += sizeof block) {
        if (write(descriptor, block, sizeof block) != (ssize_t)sizeof block) {
            close(descriptor);
            return -1;
        }
    }
    return descriptor;
}

static int crash(void) {
    int held = fill("/tmp/held.bin", HELD);
    if (held < 0 || unlink("/tmp/held.bin") != 0) return 1;
    int descriptor = open("/data/crash.bin", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (descriptor < 0) return 1;
    static unsigned char buffer[CHUNK];
    for (int chunk = 0; chunk < 40; chunk++) {
        for (int index = 0; index < CHUNK; index++) buffer[index] = chunk_byte(chunk, index);
        if (write(descriptor, buffer, CHUNK) != CHUNK) return 1;
        if (chunk == 9) fsync(descriptor);
    }
    printf("[files_concurrent crash] 40 chunks written, 10 fsync'ed; faulting now\n");
    fflush(stdout);
    *(volatile int *)(uintptr_t)8 = 1; /* the kernel stops this entity here */
    return 1;
}

static char *read_whole(const char *path, long *length) {
    int descriptor = open(path, O_RDONLY);
    if (descriptor < 0) return NULL;
    struct stat status;
    if (fstat(descriptor, &status) != 0) { close(descriptor); return NULL; }
    char *data = malloc((size_t)status.st_size + 1);
    long total = 0;
    ssize_t got;
    while (data && total < status.st_size &&
           (got = read(descriptor, data + total, (size_t)(status.st_size - total))) > 0)
        total += got;
    close(descriptor);
    *length = total;
    return data;
}

static int verify(void) {
    check_plan("files_concurrent", 7);
    for (char name = 'A'; name <= 'B'; name++) {
        char path[32], check_name[64];
        snprintf(path, sizeof path, "/tmp/%c.log", name);
        snprintf(check_name, sizeof check_name, "writer %c's own file holds its %d records", name,
                 RECORDS);
        long length = 0;
        char *data = read_whole(path, &length);
        int good = data && length == RECORDS * RECORD_SIZE;
        for (int number = 0; good && number < RECORDS; number++) {
            char record[RECORD_SIZE];
            make_record(record, name, number);
            good = memcmp(data + number * RECORD_SIZE, record, RECORD_SIZE) == 0;
        }
        check(good, check_name, "length %ld", length);
        free(data);
    }
    long length = 0;
    char *data = read_whole("/data/shared.log", &length);
    int next[2] = {0, 0}, good = data && length == 2 * RECORDS * RECORD_SIZE, switches = 0;
    char previous = 0;
    for (long offset = 0; good && offset < length; offset += RECORD_SIZE) {
        char name = data[offset];
        good = name == 'A' || name == 'B';
        if (!good) break;
        char record[RECORD_SIZE];
        make_record(record, name, next[name - 'A']++);
        good = memcmp(data + offset, record, RECORD_SIZE) == 0;
        switches += previous && previous != name;
        previous = name;
    }
    check(good && next[0] == RECORDS && next[1] == RECORDS,
          "the shared O_APPEND file holds every record of both writers, whole and in order",
          "length %ld, A %d, B %d", length, next[0], next[1]);
    check(switches > 0, "the two writers really interleaved", "no switch between writers");
    free(data);

    data = read_whole("/data/crash.bin", &length);
    good = data && length >= 10 * CHUNK && length % CHUNK == 0;
    for (long offset = 0; good && offset < length; offset++)
        good = (unsigned char)data[offset] == chunk_byte((int)(offset / CHUNK), (int)(offset % CHUNK));
    check(good, "the file of the killed writer holds whole chunks, at least the fsync'ed ten",
          "length %ld", length);
    free(data);

    int descriptor = open("/data/after.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    int fine = descriptor >= 0 && write(descriptor, "after", 5) == 5 && fsync(descriptor) == 0;
    char back[8] = {0};
    fine = fine && pread(descriptor, back, 5, 0) == 5 && strcmp(back, "after") == 0;
    if (descriptor >= 0) close(descriptor);
    check(fine, "after the crash the disk still takes, keeps and returns a new file", "errno %d",
          errno);

    errno = 0;
    descriptor = fill("/tmp/room.bin", HELD);
    check(descriptor >= 0,
          "the killed client's open files were closed: its unlinked 5 MiB is free again",
          "writing 5 MiB to the 8 MiB ramfs: errno %d (%s)", errno, strerror(errno));
    if (descriptor >= 0) close(descriptor);
    unlink("/tmp/room.bin");
    return check_finish();
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "writer") == 0) return writer(argv[2][0]);
    if (argc > 1 && strcmp(argv[1], "crash") == 0) return crash();
    return verify();
}
