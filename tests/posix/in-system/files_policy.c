/*
 * files_policy.c: file policy in POSIX terms, enforced by the monitor on the File interface's
 * path field (systems/file-policy.toml).
 *
 * Run twice in one system: `files_policy setup` (granted every File call) creates /etc/config,
 * /data/app and /data/other; then `files_policy check` (granted reads under /etc/ and
 * everything under /data/app/) checks that what its grants allow works, that the rest is
 * EACCES, and that paths are normalised before the monitor sees them: `..`, repeated slashes
 * and overlong paths cannot escape a rule. Symbolic links that setup leaves in /data/app/
 * cannot either: the file VFS has the monitor check again the path a link leads to.
 */
#include "../check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAN 21

static int make_file(const char *path, const char *contents) {
    int descriptor = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (descriptor < 0) return -1;
    ssize_t written = write(descriptor, contents, strlen(contents));
    close(descriptor);
    return written == (ssize_t)strlen(contents) ? 0 : -1;
}

static int setup(void) {
    int failures = 0;
    failures += mkdir("/etc", 0755) != 0 && errno != EEXIST;
    failures += make_file("/etc/config", "hello") != 0;
    failures += mkdir("/data", 0755) != 0 && errno != EEXIST;
    failures += mkdir("/data/app", 0755) != 0 && errno != EEXIST;
    failures += make_file("/data/other", "other") != 0;
    failures += symlink("/etc", "/data/app/to-etc") != 0;
    failures += symlink("../../etc/config", "/data/app/config-link") != 0;
    failures += symlink("/data/other", "/data/app/other-link") != 0;
    printf("[files_policy setup] %s\n", failures ? "failed" : "done");
    return failures ? 1 : 0;
}

/* Expects `result` to be -1 with errno `expected` (0: expects success). */
static void expect(const char *name, int result, int expected) {
    int error = result < 0 ? errno : 0;
    if (expected == 0)
        check(result >= 0, name, "expected success, got errno %d (%s)", error, strerror(error));
    else
        check(result < 0 && error == expected, name, "expected errno %d (%s), got result %d errno %d",
              expected, strerror(expected), result, error);
}

static int open_close(const char *path, int flags) {
    int descriptor = open(path, flags, 0644);
    if (descriptor >= 0) close(descriptor);
    return descriptor;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "setup") == 0) return setup();
    check_plan("files_policy", PLAN);

    char buffer[16] = {0};
    int descriptor = open("/etc/config", O_RDONLY);
    ssize_t length = descriptor >= 0 ? read(descriptor, buffer, sizeof buffer - 1) : -1;
    if (descriptor >= 0) close(descriptor);
    check(length == 5 && strcmp(buffer, "hello") == 0, "reading under /etc/ is granted",
          "read %zd bytes: '%s'", length, buffer);
    expect("writing /etc/config is denied (EACCES)", open_close("/etc/config", O_WRONLY), EACCES);
    expect("creating under /etc/ is denied", open_close("/etc/new", O_CREAT | O_WRONLY), EACCES);
    expect("unlink under /etc/ is denied", unlink("/etc/config"), EACCES);
    expect("creating under /data/app/ is granted",
           make_file("/data/app/state", "state"), 0);
    expect("mkdir under /data/app/ is granted", mkdir("/data/app/sub", 0755), 0);
    expect("writing /data/other is denied", open_close("/data/other", O_WRONLY), EACCES);
    expect("reading /data/other is denied", open_close("/data/other", O_RDONLY), EACCES);
    expect("mkdir outside /data/app/ is denied", mkdir("/data/elsewhere", 0755), EACCES);
    expect("rename out of /data/app/ into /etc/ is denied",
           rename("/data/app/state", "/etc/stolen"), EACCES);
    expect("rename within /data/app/ is granted",
           rename("/data/app/state", "/data/app/renamed"), 0);
    expect("'..' cannot climb out of /data/app/ to write /etc/config",
           open_close("/data/app/../../etc/config", O_WRONLY), EACCES);
    expect("'..' that stays inside the grant still works",
           open_close("/data/app/sub/../renamed", O_RDONLY), 0);
    expect("repeated slashes are normalised before the rule (read granted)",
           open_close("//etc///config", O_RDONLY), 0);
    expect("repeated slashes cannot dodge the write rule",
           open_close("//etc//config", O_WRONLY), EACCES);

    expect("a link in /data/app/ cannot carry a write into /etc/",
           open_close("/data/app/config-link", O_WRONLY), EACCES);
    expect("creating through a link to /etc/ is denied",
           open_close("/data/app/to-etc/planted", O_CREAT | O_WRONLY), EACCES);
    expect("a link in /data/app/ cannot read /data/other",
           open_close("/data/app/other-link", O_RDONLY), EACCES);
    expect("reading /etc/config through a link stays granted (the rule allows it there)",
           open_close("/data/app/config-link", O_RDONLY), 0);

    static char long_path[5000];
    strcpy(long_path, "/data/app/");
    memset(long_path + 10, 'a', sizeof long_path - 11);
    expect("an overlong path is ENAMETOOLONG", open_close(long_path, O_CREAT | O_WRONLY),
           ENAMETOOLONG);
    char with_nul[] = "/data/app/x\0/../../../etc/config";
    expect("a path ends at its NUL (the rest is never seen)",
           open_close(with_nul, O_CREAT | O_WRONLY), 0);
    return check_finish();
}
