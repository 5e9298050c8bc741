/*
 * files_persist.c: what a program writes and fsyncs on the FAT disk survives a reboot, and a
 * full disk is ENOSPC, not corruption (systems/file-persistence.toml, booted twice on one
 * disk image that stays on the host).
 *
 * A boot counter on the disk says which boot this is, and the program reports it
 * (`[check] BOOT n`): if the first boot's writes were lost, the second boot would count 1 and
 * the test runner fails it. Boot 1 writes a 200 KiB file, a directory with a note and the
 * counter, each fsync'ed. Boot 2 reads them back, then fills the disk until ENOSPC, checks the
 * earlier files are intact, and removes the filler.
 */
#include "../check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEPT_SIZE (200 * 1024)

static unsigned char pattern(size_t index) { return (unsigned char)(index * 7 + index / 4096); }

static int write_all(int descriptor, const void *data, size_t length) {
    const unsigned char *bytes = data;
    while (length > 0) {
        ssize_t written = write(descriptor, bytes, length);
        if (written <= 0) return -1;
        bytes += written;
        length -= (size_t)written;
    }
    return 0;
}

static int write_file(const char *path, const void *data, size_t length) {
    int descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (descriptor < 0) return -1;
    int result = write_all(descriptor, data, length) == 0 && fsync(descriptor) == 0 ? 0 : -1;
    return close(descriptor) == 0 ? result : -1;
}

static long read_file(const char *path, void *buffer, size_t size) {
    int descriptor = open(path, O_RDONLY);
    if (descriptor < 0) return -1;
    size_t total = 0;
    ssize_t got;
    while (total < size && (got = read(descriptor, (char *)buffer + total, size - total)) > 0)
        total += (size_t)got;
    close(descriptor);
    return (long)total;
}

static int kept_is_intact(void) {
    static unsigned char buffer[KEPT_SIZE + 1];
    if (read_file("/data/kept.bin", buffer, sizeof buffer) != KEPT_SIZE) return 0;
    for (size_t index = 0; index < KEPT_SIZE; index++)
        if (buffer[index] != pattern(index)) return 0;
    return 1;
}

static void first_boot(void) {
    check_plan("files_persist", 3);
    static unsigned char data[KEPT_SIZE];
    for (size_t index = 0; index < KEPT_SIZE; index++) data[index] = pattern(index);
    check(write_file("/data/kept.bin", data, KEPT_SIZE) == 0, "a 200 KiB file is written and fsync'ed",
          "errno %d", errno);
    int made = mkdir("/data/dir", 0755) == 0 && write_file("/data/dir/note.txt", "note", 4) == 0;
    check(made, "a directory and a file in it are made and fsync'ed", "errno %d", errno);
    check(write_file("/data/boots", "1", 1) == 0, "the boot counter is written", "errno %d", errno);
}

static void second_boot(void) {
    check_plan("files_persist", 6);
    check(kept_is_intact(), "the 200 KiB file of boot 1 reads back intact", "size or bytes differ");
    char note[8] = {0};
    long length = read_file("/data/dir/note.txt", note, sizeof note - 1);
    check(length == 4 && strcmp(note, "note") == 0, "the note in the directory of boot 1 is there",
          "read %ld bytes: '%s'", length, note);
    int seen = 0;
    DIR *directory = opendir("/data");
    struct dirent *entry;
    while (directory && (entry = readdir(directory)) != NULL)
        seen += !strcmp(entry->d_name, "kept.bin") + !strcmp(entry->d_name, "dir") +
                !strcmp(entry->d_name, "boots");
    if (directory) closedir(directory);
    check(seen == 3, "the listing of /data shows the files of boot 1", "found %d of 3", seen);

    /* Fill the disk with 256 KiB files (short cluster chains keep it quick) until a write
     * fails: it must fail with ENOSPC. */
    static unsigned char chunk[64 * 1024];
    memset(chunk, 0xa5, sizeof chunk);
    int error = 0, files = 0;
    long long total = 0;
    mkdir("/data/fill", 0755);
    while (error == 0 && files < 4096) {
        char path[64];
        snprintf(path, sizeof path, "/data/fill/%d", files++);
        int descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (descriptor < 0) { error = errno; break; }
        for (int part = 0; part < 4 && error == 0; part++) {
            ssize_t written = write(descriptor, chunk, sizeof chunk);
            if (written < 0) error = errno;
            else total += written;
            if (written >= 0 && written < (ssize_t)sizeof chunk) {
                written = write(descriptor, chunk, sizeof chunk);
                error = written < 0 ? errno : -1;
            }
        }
        close(descriptor);
    }
    check(error == ENOSPC, "filling the disk ends in ENOSPC", "errno %d after %lld bytes in %d files",
          error, total, files);
    int removed = 1;
    for (int index = 0; index < files; index++) {
        char path[64];
        snprintf(path, sizeof path, "/data/fill/%d", index);
        removed &= unlink(path) == 0 || errno == ENOENT;
    }
    removed &= rmdir("/data/fill") == 0;
    int descriptor = open("/data/boots", O_WRONLY | O_TRUNC);
    int counted = descriptor >= 0 && write_all(descriptor, "2", 1) == 0 && fsync(descriptor) == 0;
    if (descriptor >= 0) close(descriptor);
    check(removed && counted, "after ENOSPC the filler is removed and writes work again",
          "unlink %d, counter %d, errno %d", removed, counted, errno);
    check(kept_is_intact(), "a full disk left the earlier file intact", "size or bytes differ");
}

int main(void) {
    char counter[4] = {0};
    long length = read_file("/data/boots", counter, sizeof counter - 1);
    int boot = length > 0 ? atoi(counter) + 1 : 1;
    printf("[check] BOOT %d\n", boot);
    fflush(stdout);
    if (boot == 1)
        first_boot();
    else
        second_boot();
    return check_finish();
}
