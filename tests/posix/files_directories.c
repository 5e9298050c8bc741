/*
 * files_directories.c: names and directories.
 *
 * mkdir and rmdir (EEXIST, ENOENT, ENOTEMPTY, ENOTDIR), unlink of a directory,
 * opendir and readdir listing exactly the names made (rewinddir, seekdir),
 * rename (over a file, over an empty and a non-empty directory, file over
 * directory and back), a file unlinked while open staying readable, symlink
 * and readlink (truncation, EINVAL on a file, lstat against stat, O_NOFOLLOW),
 * chdir, fchdir and getcwd with relative paths, access, utimensat and futimens
 * (UTIME_OMIT included), the *at calls with a directory descriptor, and paths
 * that climb above the root (`/tmp/../../tmp` is `/tmp`). Everything happens
 * in a directory of its own under /tmp (created if missing), removed at the end.
 */
/* dirfd, symlinkat and friends in glibc's headers want more than the default set. */
#define _GNU_SOURCE 1
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "files_directories"
#define PLAN 41

/* Room for any name readdir gives, and how many names a listing here takes. */
#define NAME_LENGTH 256
#define LIST_CAPACITY 16

static char work[128];

/* Writes `work` + "/" + `name` into `buffer` and returns it. */
static const char *in_work(char *buffer, size_t size, const char *name) {
    snprintf(buffer, size, "%s/%s", work, name);
    return buffer;
}

/* Creates the file `path` holding `text`; returns 0 on success. */
static int make_file(const char *path, const char *text) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    size_t length = strlen(text);
    ssize_t written = write(fd, text, length);
    close(fd);
    return written == (ssize_t)length ? 0 : -1;
}

/* Reads up to `size - 1` bytes of `path` into `buffer`, NUL-terminated; returns the count. */
static ssize_t read_file(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        buffer[0] = 0;
        return -1;
    }
    ssize_t count = read(fd, buffer, size - 1);
    close(fd);
    buffer[count > 0 ? count : 0] = 0;
    return count;
}

/* Whether `path` exists (lstat succeeds). */
static int exists(const char *path) {
    struct stat status;
    return lstat(path, &status) == 0;
}

static void check_setup(void) {
    int made_tmp = mkdir("/tmp", 0777);
    int tmp_error = errno;
    snprintf(work, sizeof work, "/tmp/files_directories.%ld", (long)getpid());
    int made_work = mkdir(work, 0755);
    check((made_tmp == 0 || tmp_error == EEXIST) && made_work == 0,
          "mkdir /tmp and a work directory", "mkdir /tmp %d (errno %d), mkdir %s %d (errno %d)",
          made_tmp, tmp_error, work, made_work, errno);
}

static void check_make_and_remove(void) {
    char path[192], inner[192], file[192];
    in_work(path, sizeof path, "made");
    in_work(inner, sizeof inner, "made/inner");
    in_work(file, sizeof file, "made/file");
    int made = mkdir(path, 0755);
    errno = 0;
    int again = mkdir(path, 0755);
    check(made == 0 && again == -1 && errno == EEXIST, "mkdir of an existing directory is EEXIST",
          "mkdir %d, again %d (errno %d)", made, again, errno);

    char deep[192];
    errno = 0;
    int orphan = mkdir(in_work(deep, sizeof deep, "absent/child"), 0755);
    check(orphan == -1 && errno == ENOENT, "mkdir under a missing directory is ENOENT",
          "mkdir returned %d (errno %d)", orphan, errno);

    mkdir(inner, 0755);
    make_file(file, "x");
    errno = 0;
    int full = rmdir(path);
    check(full == -1 && (errno == ENOTEMPTY || errno == EEXIST),
          "rmdir of a non-empty directory is ENOTEMPTY", "rmdir returned %d (errno %d)", full,
          errno);

    errno = 0;
    int not_directory = rmdir(file);
    check(not_directory == -1 && errno == ENOTDIR, "rmdir of a file is ENOTDIR",
          "rmdir returned %d (errno %d)", not_directory, errno);

    errno = 0;
    int directory = unlink(inner);
    check(directory == -1 && (errno == EISDIR || errno == EPERM),
          "unlink of a directory is EISDIR", "unlink returned %d (errno %d)", directory, errno);

    int emptied = unlink(file) == 0 && rmdir(inner) == 0;
    int removed = rmdir(path);
    check(emptied && removed == 0 && !exists(path), "rmdir once the directory is empty",
          "emptied %d, rmdir %d (errno %d)", emptied, removed, errno);
}

static int compare_names(const void *left, const void *right) {
    return strcmp(*(const char *const *)left, *(const char *const *)right);
}

/* Lists `path` into `names` (sorted, at most `capacity`); returns how many, or -1. */
static int list(const char *path, char names[][NAME_LENGTH], int capacity) {
    DIR *directory = opendir(path);
    if (directory == NULL) {
        return -1;
    }
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (count < capacity) {
            snprintf(names[count], sizeof names[count], "%s", entry->d_name);
        }
        count++;
    }
    closedir(directory);
    if (count > capacity) {
        return -1;
    }
    const char *order[LIST_CAPACITY];
    for (int index = 0; index < count; index++) {
        order[index] = names[index];
    }
    qsort(order, (size_t)count, sizeof order[0], compare_names);
    char sorted[LIST_CAPACITY][NAME_LENGTH];
    for (int index = 0; index < count; index++) {
        snprintf(sorted[index], sizeof sorted[index], "%s", order[index]);
    }
    memcpy(names, sorted, sizeof names[0] * (size_t)count);
    return count;
}

static void check_listing(void) {
    char path[192], entry[512];
    in_work(path, sizeof path, "listing");
    mkdir(path, 0755);
    char names[LIST_CAPACITY][NAME_LENGTH];
    int empty = list(path, names, LIST_CAPACITY);
    check(empty == 2 && strcmp(names[0], ".") == 0 && strcmp(names[1], "..") == 0,
          "an empty directory lists . and .. only", "%d names, first \"%s\"", empty,
          empty > 0 ? names[0] : "");

    static const char *made[] = {"alpha", "beta.txt", "gamma-with-a-longer-name", "sub"};
    int ready = 1;
    for (int index = 0; index < 3; index++) {
        snprintf(entry, sizeof entry, "%s/%s", path, made[index]);
        ready &= make_file(entry, made[index]) == 0;
    }
    snprintf(entry, sizeof entry, "%s/sub", path);
    ready &= mkdir(entry, 0755) == 0;
    int count = list(path, names, LIST_CAPACITY);
    int exact = count == 6 && strcmp(names[0], ".") == 0 && strcmp(names[1], "..") == 0;
    for (int index = 0; exact && index < 4; index++) {
        exact = strcmp(names[index + 2], made[index]) == 0;
    }
    check(ready && exact, "readdir lists exactly the names made", "%d names: %s %s %s %s %s %s",
          count, count > 0 ? names[0] : "", count > 1 ? names[1] : "", count > 2 ? names[2] : "",
          count > 3 ? names[3] : "", count > 4 ? names[4] : "", count > 5 ? names[5] : "");

    DIR *directory = opendir(path);
    int types_right = 1, seen = 0;
    long position = -1;
    char remembered[NAME_LENGTH] = "";
    struct dirent *item;
    while ((item = readdir(directory)) != NULL) {
        seen++;
        if (item->d_type != DT_UNKNOWN) {
            int is_directory = strcmp(item->d_name, "sub") == 0 || item->d_name[0] == '.';
            types_right &= item->d_type == (is_directory ? DT_DIR : DT_REG);
        }
        if (seen == 3) {
            position = telldir(directory);
        }
        if (seen == 4) {
            snprintf(remembered, sizeof remembered, "%s", item->d_name);
        }
    }
    rewinddir(directory);
    int again = 0;
    while (readdir(directory) != NULL) {
        again++;
    }
    seekdir(directory, position);
    item = readdir(directory);
    int returned = item != NULL && strcmp(item->d_name, remembered) == 0;
    closedir(directory);
    check(types_right && seen == 6 && again == 6 && returned,
          "d_type, rewinddir and seekdir to a telldir position",
          "types right %d, first pass %d, after rewinddir %d, seekdir gave \"%s\" (wanted \"%s\")",
          types_right, seen, again, item ? item->d_name : "(end)", remembered);

    for (int index = 0; index < 3; index++) {
        snprintf(entry, sizeof entry, "%s/%s", path, made[index]);
        unlink(entry);
    }
    snprintf(entry, sizeof entry, "%s/sub", path);
    rmdir(entry);
    rmdir(path);
}

static void check_rename(void) {
    char from[192], to[192], text[32];
    in_work(from, sizeof from, "from");
    in_work(to, sizeof to, "to");
    make_file(from, "moved");
    int renamed = rename(from, to);
    ssize_t length = read_file(to, text, sizeof text);
    check(renamed == 0 && !exists(from) && length == 5 && strcmp(text, "moved") == 0,
          "rename moves a file", "rename %d, old exists %d, new holds \"%s\"", renamed,
          exists(from), text);

    make_file(from, "replacement");
    int replaced = rename(from, to);
    read_file(to, text, sizeof text);
    check(replaced == 0 && !exists(from) && strcmp(text, "replacement") == 0,
          "rename over an existing file replaces it", "rename %d, new holds \"%s\"", replaced, text);

    char first[192], second[192], inside[192];
    in_work(first, sizeof first, "first-directory");
    in_work(second, sizeof second, "second-directory");
    mkdir(first, 0755);
    mkdir(second, 0755);
    make_file(in_work(inside, sizeof inside, "first-directory/kept"), "kept");
    int over_empty = rename(first, second);
    char kept[192];
    check(over_empty == 0 && !exists(first) &&
              exists(in_work(kept, sizeof kept, "second-directory/kept")),
          "rename a directory over an empty directory", "rename %d (errno %d)", over_empty, errno);

    mkdir(first, 0755);
    errno = 0;
    int over_full = rename(first, second);
    check(over_full == -1 && (errno == ENOTEMPTY || errno == EEXIST),
          "rename a directory over a non-empty one is ENOTEMPTY", "rename %d (errno %d)", over_full,
          errno);

    errno = 0;
    int file_over_directory = rename(to, first);
    int file_error = errno;
    errno = 0;
    int directory_over_file = rename(first, to);
    int directory_error = errno;
    check(file_over_directory == -1 && file_error == EISDIR && directory_over_file == -1 &&
              directory_error == ENOTDIR,
          "rename mixing a file and a directory: EISDIR and ENOTDIR",
          "file over directory %d (errno %d), directory over file %d (errno %d)",
          file_over_directory, file_error, directory_over_file, directory_error);

    char missing[192];
    errno = 0;
    int absent = rename(in_work(missing, sizeof missing, "missing"), to);
    check(absent == -1 && errno == ENOENT, "rename of a missing name is ENOENT",
          "rename %d (errno %d)", absent, errno);

    unlink(kept);
    rmdir(second);
    rmdir(first);
    unlink(to);
}

static void check_unlinked_but_open(void) {
    char path[192];
    in_work(path, sizeof path, "ephemeral");
    make_file(path, "still here");
    int fd = open(path, O_RDONLY);
    int unlinked = unlink(path);
    struct stat status;
    errno = 0;
    int named = stat(path, &status);
    int name_error = errno;
    char text[32] = {0};
    ssize_t count = read(fd, text, sizeof text - 1);
    int described = fstat(fd, &status);
    close(fd);
    check(fd >= 0 && unlinked == 0 && named == -1 && name_error == ENOENT && count == 10 &&
              strcmp(text, "still here") == 0 && described == 0 && status.st_size == 10,
          "an unlinked file stays readable while open",
          "unlink %d, stat %d (errno %d), read %zd \"%s\", fstat %d size %lld", unlinked, named,
          name_error, count, text, described, (long long)status.st_size);
}

static void check_links(void) {
    char target[192], link[192], text[64];
    in_work(target, sizeof target, "link-target");
    in_work(link, sizeof link, "link");
    make_file(target, "through the link");
    int made = symlink("link-target", link);
    char buffer[64];
    memset(buffer, 'x', sizeof buffer);
    ssize_t length = readlink(link, buffer, sizeof buffer);
    check(made == 0 && length == 11 && memcmp(buffer, "link-target", 11) == 0 && buffer[11] == 'x',
          "symlink and readlink (no NUL added)", "symlink %d, readlink %zd \"%.11s\"", made, length,
          buffer);

    length = readlink(link, buffer, 4);
    check(length == 4 && memcmp(buffer, "link", 4) == 0, "readlink cuts the target to the buffer",
          "readlink returned %zd", length);

    errno = 0;
    length = readlink(target, buffer, sizeof buffer);
    check(length == -1 && errno == EINVAL, "readlink of a regular file is EINVAL",
          "readlink returned %zd (errno %d)", length, errno);

    struct stat of_link, of_target;
    int link_status = lstat(link, &of_link);
    int target_status = stat(link, &of_target);
    ssize_t count = read_file(link, text, sizeof text);
    check(link_status == 0 && S_ISLNK(of_link.st_mode) && target_status == 0 &&
              S_ISREG(of_target.st_mode) && count == 16 && strcmp(text, "through the link") == 0,
          "lstat sees the link, stat and open its target",
          "lstat %d mode %o, stat %d mode %o, read \"%s\"", link_status, (unsigned)of_link.st_mode,
          target_status, (unsigned)of_target.st_mode, text);

    errno = 0;
    int fd = open(link, O_RDONLY | O_NOFOLLOW);
    check(fd == -1 && errno == ELOOP, "O_NOFOLLOW on a symbolic link is ELOOP",
          "open returned %d (errno %d)", fd, errno);
    if (fd >= 0) {
        close(fd);
    }
    unlink(link);
    unlink(target);
}

static void check_working_directory(void) {
    char start[PATH_MAX], here[PATH_MAX], sub[192];
    char *started = getcwd(start, sizeof start);
    in_work(sub, sizeof sub, "cwd");
    mkdir(sub, 0755);
    int moved = chdir(sub);
    char *got = getcwd(here, sizeof here);
    check(started != NULL && moved == 0 && got != NULL && strcmp(here, sub) == 0,
          "chdir then getcwd", "chdir %d, getcwd \"%s\" (wanted \"%s\")", moved,
          got ? here : "(null)", sub);

    int made = make_file("relative", "relative text");
    char absolute[192], text[32];
    in_work(absolute, sizeof absolute, "cwd/relative");
    read_file(absolute, text, sizeof text);
    struct stat status;
    int dotted = stat("./../cwd/./relative", &status);
    check(made == 0 && strcmp(text, "relative text") == 0 && dotted == 0,
          "relative paths resolve against the working directory",
          "create %d, contents \"%s\", stat of a dotted path %d", made, text, dotted);

    errno = 0;
    int into_file = chdir("relative");
    check(into_file == -1 && errno == ENOTDIR, "chdir to a file is ENOTDIR",
          "chdir returned %d (errno %d)", into_file, errno);

    int up = chdir("..");
    got = getcwd(here, sizeof here);
    check(up == 0 && got != NULL && strcmp(here, work) == 0, "chdir(\"..\") moves up",
          "chdir %d, getcwd \"%s\"", up, got ? here : "(null)");

    int directory = open("cwd", O_RDONLY | O_DIRECTORY);
    int changed = fchdir(directory);
    got = getcwd(here, sizeof here);
    int file = open("relative", O_RDONLY);
    errno = 0;
    int into_descriptor = fchdir(file);
    int file_error = errno;
    check(directory >= 0 && changed == 0 && got != NULL && strcmp(here, sub) == 0 &&
              into_descriptor == -1 && file_error == ENOTDIR,
          "fchdir to a directory, and ENOTDIR for a file",
          "fchdir %d, getcwd \"%s\", fchdir of a file %d (errno %d)", changed,
          got ? here : "(null)", into_descriptor, file_error);
    close(file);
    close(directory);
    unlink(absolute);
    int back = chdir(start);
    rmdir(sub);
    check(back == 0, "chdir back to the start", "chdir \"%s\" %d (errno %d)", start, back, errno);
}

static void check_access_and_times(void) {
    char path[192], missing[192];
    in_work(path, sizeof path, "timed");
    make_file(path, "t");
    int present = access(path, F_OK);
    int readable = access(path, R_OK | W_OK);
    errno = 0;
    int absent = access(in_work(missing, sizeof missing, "missing"), F_OK);
    check(present == 0 && readable == 0 && absent == -1 && errno == ENOENT,
          "access of a file and of a missing name", "F_OK %d, R_OK|W_OK %d, missing %d (errno %d)",
          present, readable, absent, errno);

    struct timespec times[2] = {{.tv_sec = 1000000, .tv_nsec = 500}, {.tv_sec = 2000000, .tv_nsec = 0}};
    int set = utimensat(AT_FDCWD, path, times, 0);
    struct stat status;
    stat(path, &status);
    check(set == 0 && status.st_atime == 1000000 && status.st_mtime == 2000000,
          "utimensat sets both times", "utimensat %d, atime %lld, mtime %lld", set,
          (long long)status.st_atime, (long long)status.st_mtime);

    struct timespec omit[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, {.tv_sec = 3000000, .tv_nsec = 0}};
    int fd = open(path, O_RDONLY);
    int described = futimens(fd, omit);
    close(fd);
    stat(path, &status);
    check(described == 0 && status.st_atime == 1000000 && status.st_mtime == 3000000,
          "futimens with UTIME_OMIT leaves a time alone", "futimens %d, atime %lld, mtime %lld",
          described, (long long)status.st_atime, (long long)status.st_mtime);

    time_t before = time(NULL);
    int now = utimensat(AT_FDCWD, path, NULL, 0);
    time_t after = time(NULL);
    stat(path, &status);
    check(now == 0 && status.st_mtime >= before - 2 && status.st_mtime <= after + 2,
          "utimensat with no times sets them to now",
          "utimensat %d, mtime %lld, clock before %lld and after %lld", now,
          (long long)status.st_mtime, (long long)before, (long long)after);
    unlink(path);
}

static void check_at_calls(void) {
    char base[192], other[192];
    in_work(base, sizeof base, "at-base");
    in_work(other, sizeof other, "at-other");
    mkdir(base, 0755);
    mkdir(other, 0755);
    int directory = open(base, O_RDONLY | O_DIRECTORY);
    int second = open(other, O_RDONLY | O_DIRECTORY);

    int fd = openat(directory, "file", O_CREAT | O_WRONLY, 0644);
    ssize_t written = fd >= 0 ? write(fd, "at", 2) : -1;
    if (fd >= 0) {
        close(fd);
    }
    int made = mkdirat(directory, "inner", 0755);
    struct stat status;
    int found = fstatat(directory, "inner/../file", &status, 0);
    char absolute[192];
    struct stat by_path;
    int same = stat(in_work(absolute, sizeof absolute, "at-base/file"), &by_path) == 0 &&
               by_path.st_ino == status.st_ino;
    check(fd >= 0 && written == 2 && made == 0 && found == 0 && status.st_size == 2 && same,
          "openat, mkdirat and fstatat relative to a directory descriptor",
          "openat %d, write %zd, mkdirat %d, fstatat %d (size %lld), same file %d", fd, written,
          made, found, (long long)status.st_size, same);

    int linked = symlinkat("file", directory, "link");
    char buffer[16] = {0};
    ssize_t length = readlinkat(directory, "link", buffer, sizeof buffer - 1);
    int accessible = faccessat(directory, "link", R_OK, 0);
    check(linked == 0 && length == 4 && strcmp(buffer, "file") == 0 && accessible == 0,
          "symlinkat, readlinkat and faccessat with a directory descriptor",
          "symlinkat %d, readlinkat %zd \"%s\", faccessat %d", linked, length, buffer, accessible);

    int moved = renameat(directory, "file", second, "moved");
    struct stat moved_status;
    int there = fstatat(second, "moved", &moved_status, 0);
    errno = 0;
    int gone = fstatat(directory, "file", &status, 0);
    check(moved == 0 && there == 0 && moved_status.st_ino == by_path.st_ino && gone == -1 &&
              errno == ENOENT,
          "renameat between two directory descriptors", "renameat %d, new %d, old %d (errno %d)",
          moved, there, gone, errno);

    int plain = openat(second, "moved", O_RDONLY);
    errno = 0;
    int through_file = openat(plain, "anything", O_RDONLY);
    check(plain >= 0 && through_file == -1 && errno == ENOTDIR,
          "a file as the directory descriptor is ENOTDIR", "openat returned %d (errno %d)",
          through_file, errno);
    close(plain);

    int removed = unlinkat(directory, "link", 0) == 0 && unlinkat(directory, "inner", AT_REMOVEDIR) == 0 &&
                  unlinkat(second, "moved", 0) == 0;
    errno = 0;
    int wrong = unlinkat(directory, "inner", 0);
    check(removed && wrong == -1 && errno == ENOENT, "unlinkat of files and, with AT_REMOVEDIR, directories",
          "removed %d, unlinkat of a removed name %d (errno %d)", removed, wrong, errno);
    close(second);
    close(directory);
    rmdir(other);
    rmdir(base);
}

static void check_normalisation(void) {
    struct stat tmp, climbed;
    int plain = stat("/tmp", &tmp);
    int above = stat("/tmp/../../../tmp", &climbed);
    check(plain == 0 && above == 0 && tmp.st_ino == climbed.st_ino,
          "/tmp/../../../tmp is /tmp: nothing is above the root",
          "stat /tmp %d, stat of the climb %d, inodes %llu/%llu", plain, above,
          (unsigned long long)tmp.st_ino, (unsigned long long)climbed.st_ino);

    char file[192], roundabout[256];
    in_work(file, sizeof file, "normal");
    make_file(file, "n");
    const char *leaf = strrchr(work, '/') + 1;
    snprintf(roundabout, sizeof roundabout, "/tmp/../../tmp//./%s/../%s/normal", leaf, leaf);
    struct stat direct, indirect;
    int first = stat(file, &direct);
    int second = stat(roundabout, &indirect);
    check(first == 0 && second == 0 && direct.st_ino == indirect.st_ino,
          "dots and repeated slashes name the same file", "stat %d and %d of \"%s\"", first, second,
          roundabout);

    char trailing[200];
    snprintf(trailing, sizeof trailing, "%s/", file);
    errno = 0;
    int slash = stat(trailing, &direct);
    check(slash == -1 && errno == ENOTDIR, "a file named with a trailing slash is ENOTDIR",
          "stat returned %d (errno %d)", slash, errno);
    unlink(file);
}

static void check_cleanup(void) {
    int gone = rmdir(work);
    check(gone == 0, "the work directory is empty and removed", "rmdir %d (errno %d)", gone, errno);
}

int main(void) {
    check_plan(PROGRAM, PLAN);
    umask(022);
    check_setup();
    check_make_and_remove();
    check_listing();
    check_rename();
    check_unlinked_but_open();
    check_links();
    check_working_directory();
    check_access_and_times();
    check_at_calls();
    check_normalisation();
    check_cleanup();
    return check_finish();
}
