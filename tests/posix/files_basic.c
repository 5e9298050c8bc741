/*
 * files_basic.c: open files and what a descriptor does with them.
 *
 * open with each flag (O_CREAT, O_EXCL failing with EEXIST, O_TRUNC, O_APPEND,
 * O_DIRECTORY on a file failing with ENOTDIR, O_CLOEXEC, access modes), read,
 * write, pread, pwrite, readv, writev and lseek (holes included), a write and
 * read larger than one message, stat, fstat, lstat and fstatat, ftruncate,
 * fsync and fdatasync, dup, dup2 and dup3 sharing the offset, fcntl's flags,
 * and the umask's effect on created modes. Everything happens in a directory
 * of its own under /tmp (created if missing), removed at the end.
 */
/* dup3 is a GNU extension in glibc's headers (musl declares it under _GNU_SOURCE too). */
#define _GNU_SOURCE 1
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define PROGRAM "files_basic"
#define PLAN 35

static char work[128];

/* Writes `work` + "/" + `name` into `buffer` and returns it. */
static const char *in_work(char *buffer, size_t size, const char *name) {
    snprintf(buffer, size, "%s/%s", work, name);
    return buffer;
}

/* Reads the whole file at `path` into `buffer` (at most `size` bytes); returns its length. */
static ssize_t contents(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    ssize_t total = 0;
    for (;;) {
        ssize_t count = read(fd, buffer + total, size - (size_t)total);
        if (count <= 0) {
            break;
        }
        total += count;
    }
    close(fd);
    return total;
}

static void check_setup(void) {
    int made_tmp = mkdir("/tmp", 0777);
    int tmp_error = errno;
    snprintf(work, sizeof work, "/tmp/files_basic.%ld", (long)getpid());
    int made_work = mkdir(work, 0755);
    check((made_tmp == 0 || tmp_error == EEXIST) && made_work == 0,
          "mkdir /tmp and a work directory", "mkdir /tmp %d (errno %d), mkdir %s %d (errno %d)",
          made_tmp, tmp_error, work, made_work, errno);
}

static void check_open_flags(void) {
    char path[192];
    in_work(path, sizeof path, "flags");
    int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
    check(fd >= 0, "O_CREAT | O_EXCL creates a file", "open returned %d (errno %d)", fd, errno);

    errno = 0;
    int again = open(path, O_CREAT | O_EXCL | O_RDWR, 0644);
    check(again == -1 && errno == EEXIST, "O_EXCL on an existing file is EEXIST",
          "open returned %d (errno %d, EEXIST %d)", again, errno, EEXIST);

    ssize_t written = write(fd, "hello, files", 12);
    off_t start = lseek(fd, 0, SEEK_SET);
    char buffer[32] = {0};
    ssize_t count = read(fd, buffer, sizeof buffer);
    check(written == 12 && start == 0 && count == 12 && memcmp(buffer, "hello, files", 12) == 0,
          "write, lseek and read back", "write %zd, lseek %lld, read %zd \"%.12s\"", written,
          (long long)start, count, buffer);
    count = read(fd, buffer, sizeof buffer);
    check_long("read at the end of the file returns 0", 0, count);
    close(fd);

    fd = open(path, O_WRONLY | O_TRUNC);
    struct stat status;
    int got = fstat(fd, &status);
    check(fd >= 0 && got == 0 && status.st_size == 0, "O_TRUNC empties the file",
          "open %d, fstat %d, size %lld", fd, got, (long long)status.st_size);
    close(fd);

    fd = open(path, O_WRONLY | O_APPEND);
    ssize_t first = write(fd, "abc", 3);
    lseek(fd, 0, SEEK_SET);
    ssize_t second = write(fd, "def", 3);
    off_t after = lseek(fd, 0, SEEK_CUR);
    close(fd);
    char text[16] = {0};
    ssize_t length = contents(path, text, sizeof text - 1);
    check(first == 3 && second == 3 && after == 6 && length == 6 && strcmp(text, "abcdef") == 0,
          "O_APPEND writes at the end whatever the offset",
          "writes %zd/%zd, offset %lld, contents \"%s\" (%zd)", first, second, (long long)after,
          text, length);

    errno = 0;
    fd = open(path, O_RDONLY | O_DIRECTORY);
    check(fd == -1 && errno == ENOTDIR, "O_DIRECTORY on a file is ENOTDIR",
          "open returned %d (errno %d, ENOTDIR %d)", fd, errno, ENOTDIR);

    char missing[192];
    errno = 0;
    fd = open(in_work(missing, sizeof missing, "missing"), O_RDONLY);
    check(fd == -1 && errno == ENOENT, "open of a missing file is ENOENT",
          "open returned %d (errno %d)", fd, errno);

    fd = open(path, O_RDONLY);
    errno = 0;
    written = write(fd, "x", 1);
    check(written == -1 && errno == EBADF, "a read-only descriptor refuses write with EBADF",
          "write returned %zd (errno %d)", written, errno);
    close(fd);

    fd = open(path, O_WRONLY);
    errno = 0;
    count = read(fd, buffer, 1);
    check(count == -1 && errno == EBADF, "a write-only descriptor refuses read with EBADF",
          "read returned %zd (errno %d)", count, errno);
    close(fd);

    fd = open(path, O_RDONLY | O_CLOEXEC);
    int flags = fcntl(fd, F_GETFD);
    check(fd >= 0 && flags == FD_CLOEXEC, "O_CLOEXEC sets FD_CLOEXEC", "open %d, F_GETFD %d", fd,
          flags);
    close(fd);

    char directory[192];
    in_work(directory, sizeof directory, "directory");
    mkdir(directory, 0755);
    errno = 0;
    fd = open(directory, O_WRONLY);
    int write_error = errno;
    int read_fd = open(directory, O_RDONLY);
    errno = 0;
    count = read(read_fd, buffer, sizeof buffer);
    int read_error = errno;
    close(read_fd);
    check(fd == -1 && write_error == EISDIR && read_fd >= 0 && count == -1 && read_error == EISDIR,
          "a directory opens read-only and cannot be read or opened for writing",
          "open for writing %d (errno %d), read-only open %d, read %zd (errno %d), EISDIR %d", fd,
          write_error, read_fd, count, read_error, EISDIR);
    rmdir(directory);
}

static void check_positioned_and_vectors(void) {
    char path[192];
    in_work(path, sizeof path, "positioned");
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    ssize_t initial = write(fd, "0123456789", 10);
    char buffer[8] = {0};
    ssize_t count = pread(fd, buffer, 4, 3);
    ssize_t written = pwrite(fd, "AB", 2, 8);
    off_t offset = lseek(fd, 0, SEEK_CUR);
    char text[16] = {0};
    ssize_t whole = pread(fd, text, 10, 0);
    check(initial == 10 && count == 4 && memcmp(buffer, "3456", 4) == 0 && written == 2 &&
              offset == 10 && whole == 10 && strcmp(text, "01234567AB") == 0,
          "pread and pwrite leave the offset alone",
          "write %zd, pread %zd \"%.4s\", pwrite %zd, offset %lld, contents \"%s\" (%zd)", initial,
          count, buffer, written, (long long)offset, text, whole);

    struct iovec out[3] = {
        {.iov_base = "one ", .iov_len = 4},
        {.iov_base = "two ", .iov_len = 4},
        {.iov_base = "three", .iov_len = 5},
    };
    lseek(fd, 0, SEEK_SET);
    ssize_t gathered = writev(fd, out, 3);
    char first[5] = {0}, second[9] = {0};
    struct iovec in[2] = {
        {.iov_base = first, .iov_len = 4},
        {.iov_base = second, .iov_len = 8},
    };
    lseek(fd, 0, SEEK_SET);
    ssize_t scattered = readv(fd, in, 2);
    check(gathered == 13 && scattered == 12 && strcmp(first, "one ") == 0 &&
              strcmp(second, "two thre") == 0,
          "writev and readv move whole buffers in order",
          "writev %zd, readv %zd, \"%s\" \"%s\"", gathered, scattered, first, second);

    off_t end = lseek(fd, 0, SEEK_END);
    off_t back = lseek(fd, -5, SEEK_CUR);
    off_t set = lseek(fd, 2, SEEK_SET);
    check(end == 13 && back == 8 && set == 2, "lseek with SEEK_END, SEEK_CUR and SEEK_SET",
          "SEEK_END %lld, SEEK_CUR -5 %lld, SEEK_SET 2 %lld", (long long)end, (long long)back,
          (long long)set);

    errno = 0;
    off_t negative = lseek(fd, -1, SEEK_SET);
    check(negative == -1 && errno == EINVAL, "lseek to a negative offset is EINVAL",
          "lseek returned %lld (errno %d)", (long long)negative, errno);

    off_t far = lseek(fd, 100, SEEK_SET);
    written = write(fd, "Z", 1);
    struct stat status;
    fstat(fd, &status);
    char hole[4] = {1, 1, 1, 1};
    count = pread(fd, hole, 4, 50);
    check(far == 100 && written == 1 && status.st_size == 101 && count == 4 &&
              memcmp(hole, "\0\0\0\0", 4) == 0,
          "a write past the end leaves zeros before it",
          "lseek %lld, write %zd, size %lld, pread %zd [%d %d %d %d]", (long long)far, written,
          (long long)status.st_size, count, hole[0], hole[1], hole[2], hole[3]);
    close(fd);
}

static void check_large_transfers(void) {
    enum { SIZE = 40000 };
    static unsigned char data[SIZE], back[SIZE + 100];
    for (int index = 0; index < SIZE; index++) {
        data[index] = (unsigned char)(index * 7 + index / 251);
    }
    char path[192];
    in_work(path, sizeof path, "large");
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    ssize_t written = write(fd, data, SIZE);
    lseek(fd, 0, SEEK_SET);
    ssize_t count = read(fd, back, sizeof back);
    check(written == SIZE && count == SIZE && memcmp(data, back, SIZE) == 0,
          "a 40000-byte write and read round trip", "write %zd, read %zd, equal %d", written,
          count, count == SIZE && memcmp(data, back, SIZE) == 0);
    memset(back, 0, sizeof back);
    count = pread(fd, back, 30000, 5000);
    check(count == 30000 && memcmp(data + 5000, back, 30000) == 0,
          "a 30000-byte pread from the middle", "pread %zd", count);
    close(fd);
}

static void check_status(void) {
    char path[192];
    in_work(path, sizeof path, "status");
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0640);
    ssize_t written = write(fd, "twelve bytes", 12);
    struct stat by_descriptor, by_path, by_link, at;
    int described = fstat(fd, &by_descriptor);
    check(written == 12 && described == 0 && S_ISREG(by_descriptor.st_mode) && by_descriptor.st_size == 12 &&
              by_descriptor.st_nlink >= 1,
          "fstat reports a regular file and its size", "fstat %d, mode %o, size %lld, nlink %ld",
          described, (unsigned)by_descriptor.st_mode, (long long)by_descriptor.st_size,
          (long)by_descriptor.st_nlink);
    int named = stat(path, &by_path);
    int linked = lstat(path, &by_link);
    check(named == 0 && linked == 0 && by_path.st_ino == by_descriptor.st_ino &&
              by_path.st_dev == by_descriptor.st_dev && by_link.st_ino == by_path.st_ino &&
              by_link.st_mode == by_path.st_mode && by_path.st_size == 12,
          "stat, lstat and fstat agree on a regular file",
          "stat %d, lstat %d, inodes %llu/%llu/%llu", named, linked,
          (unsigned long long)by_path.st_ino, (unsigned long long)by_link.st_ino,
          (unsigned long long)by_descriptor.st_ino);
    int directory = open(work, O_RDONLY | O_DIRECTORY);
    int relative = fstatat(directory, "status", &at, 0);
    check(directory >= 0 && relative == 0 && at.st_ino == by_path.st_ino,
          "fstatat relative to a directory descriptor", "open %d, fstatat %d, inode %llu",
          directory, relative, (unsigned long long)at.st_ino);
    close(directory);
    struct stat of_directory;
    int dir_status = stat(work, &of_directory);
    check(dir_status == 0 && S_ISDIR(of_directory.st_mode), "stat of a directory says so",
          "stat %d, mode %o", dir_status, (unsigned)of_directory.st_mode);

    int shrunk = ftruncate(fd, 3);
    struct stat small;
    fstat(fd, &small);
    int grown = ftruncate(fd, 10);
    char text[16];
    memset(text, 'x', sizeof text);
    ssize_t count = pread(fd, text, sizeof text, 0);
    check(shrunk == 0 && small.st_size == 3 && grown == 0 && count == 10 &&
              memcmp(text, "twe\0\0\0\0\0\0\0", 10) == 0,
          "ftruncate shrinks, then extends with zeros",
          "shrink %d (size %lld), extend %d, read %zd", shrunk, (long long)small.st_size, grown,
          count);
    int synced = fsync(fd);
    int data_synced = fdatasync(fd);
    check(synced == 0 && data_synced == 0, "fsync and fdatasync succeed", "fsync %d, fdatasync %d",
          synced, data_synced);
    close(fd);

    fd = open(path, O_RDONLY);
    errno = 0;
    int refused = ftruncate(fd, 0);
    check(refused == -1 && (errno == EINVAL || errno == EBADF),
          "ftruncate of a read-only descriptor fails", "ftruncate %d (errno %d)", refused, errno);
    close(fd);
}

static void check_duplicates(void) {
    char path[192];
    in_work(path, sizeof path, "duplicates");
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    int copy = dup(fd);
    ssize_t written = write(fd, "abcdef", 6);
    off_t shared = lseek(copy, 0, SEEK_CUR);
    lseek(copy, 2, SEEK_SET);
    char byte = 0;
    ssize_t count = read(fd, &byte, 1);
    check(copy >= 0 && copy != fd && written == 6 && shared == 6 && count == 1 && byte == 'c',
          "dup shares the offset", "dup %d, write %zd, offset seen %lld, read %zd '%c'", copy,
          written, (long long)shared, count, byte);

    char other_path[192];
    int other = open(in_work(other_path, sizeof other_path, "other"), O_CREAT | O_RDWR, 0600);
    int target = dup2(fd, other);
    off_t seen = lseek(other, 0, SEEK_CUR);
    check(target == other && seen == 3, "dup2 onto an open descriptor replaces it",
          "dup2 %d (wanted %d), offset %lld", target, other, (long long)seen);

    int third = dup3(fd, 60, O_CLOEXEC);
    int third_flags = fcntl(third, F_GETFD);
    int first_flags = fcntl(fd, F_GETFD);
    errno = 0;
    int same = dup3(fd, fd, 0);
    int same_error = errno;
    check(third == 60 && third_flags == FD_CLOEXEC && first_flags == 0 && same == -1 &&
              same_error == EINVAL,
          "dup3: O_CLOEXEC on the copy only, the same number is EINVAL",
          "dup3 %d (FD %d, original %d), dup3 to itself %d (errno %d)", third, third_flags,
          first_flags, same, same_error);

    int access_mode = fcntl(fd, F_GETFL) & O_ACCMODE;
    int set = fcntl(copy, F_SETFL, O_APPEND);
    int seen_flags = fcntl(fd, F_GETFL);
    lseek(fd, 0, SEEK_SET);
    ssize_t appended = write(third, "!", 1);
    char text[16] = {0};
    ssize_t length = contents(path, text, sizeof text - 1);
    check(access_mode == O_RDWR && set == 0 && (seen_flags & O_APPEND) && appended == 1 &&
              (seen_flags & O_ACCMODE) == O_RDWR && length == 7 && strcmp(text, "abcdef!") == 0,
          "F_SETFL O_APPEND through one duplicate applies to all",
          "F_GETFL mode %d, F_SETFL %d, flags seen %#x, contents \"%s\"", access_mode, set,
          seen_flags, text);

    int low = fcntl(fd, F_DUPFD, 50);
    check(low >= 50 && low != 60, "F_DUPFD gives the lowest free descriptor at or above",
          "F_DUPFD 50 returned %d", low);

    close(low);
    close(third);
    close(other);
    close(copy);
    close(fd);
    errno = 0;
    ssize_t closed = write(fd, "x", 1);
    check(closed == -1 && errno == EBADF, "a closed descriptor is EBADF",
          "write returned %zd (errno %d)", closed, errno);
}

static void check_umask(void) {
    char file[192], directory[192];
    in_work(file, sizeof file, "masked");
    in_work(directory, sizeof directory, "masked-directory");
    mode_t old = umask(022);
    int fd = open(file, O_CREAT | O_WRONLY, 0666);
    close(fd);
    umask(077);
    int made = mkdir(directory, 0777);
    mode_t previous = umask(old);
    struct stat file_status, directory_status;
    stat(file, &file_status);
    stat(directory, &directory_status);
    check(fd >= 0 && made == 0 && previous == 077 && (file_status.st_mode & 07777) == 0644 &&
              (directory_status.st_mode & 07777) == 0700,
          "the umask masks created modes", "file mode %o (wanted 644), directory mode %o (700)",
          (unsigned)(file_status.st_mode & 07777), (unsigned)(directory_status.st_mode & 07777));
    rmdir(directory);
}

static void check_cleanup(void) {
    static const char *names[] = {"flags", "positioned", "large", "status", "duplicates", "other",
                                  "masked"};
    int removed = 0;
    for (size_t index = 0; index < sizeof names / sizeof names[0]; index++) {
        char path[192];
        removed += unlink(in_work(path, sizeof path, names[index])) == 0;
    }
    int gone = rmdir(work);
    check(removed == (int)(sizeof names / sizeof names[0]) && gone == 0,
          "unlink the files and remove the work directory", "removed %d of %zu, rmdir %d (errno %d)",
          removed, sizeof names / sizeof names[0], gone, errno);
}

int main(void) {
    check_plan(PROGRAM, PLAN);
    umask(022);
    check_setup();
    check_open_flags();
    check_positioned_and_vectors();
    check_large_transfers();
    check_status();
    check_duplicates();
    check_umask();
    check_cleanup();
    return check_finish();
}
