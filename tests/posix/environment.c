/*
 * environment.c: the arguments and environment a program starts with.
 *
 * The runner starts this program with the arguments `alpha`, `two words` and
 * `gamma` and with SEPTA_TEST_VALUE=forty-two and HOME (an absolute path) in
 * its environment. Checks argc and argv exactly (argv[argc] is NULL), main's
 * third parameter, getenv of present and missing names, setenv (overwriting
 * or not, invalid names), unsetenv, putenv (which inserts the caller's string
 * itself), and that environ lists what getenv sees.
 */
#include "check.h"

#include <errno.h>

#define PLAN 15

extern char **environ;

/* Whether `entry` ("NAME=value") is in environ. */
static int in_environ(const char *entry) {
    for (char **variable = environ; variable != NULL && *variable != NULL; variable++) {
        if (strcmp(*variable, entry) == 0) return 1;
    }
    return 0;
}

static void check_arguments(int argc, char **argv, char **envp) {
    check_long("argc counts the program and three arguments", 4, argc);
    const char *expected[] = {"alpha", "two words", "gamma"};
    for (int index = 1; index <= 3; index++) {
        char name[32];
        snprintf(name, sizeof name, "argv[%d]", index);
        check_string(name, expected[index - 1], index < argc ? argv[index] : NULL);
    }
    check(argv[argc] == NULL, "argv[argc] is NULL", "got %p", (void *)argv[argc]);
    check(argv[0] != NULL && argv[0][0] != '\0', "argv[0] names the program",
          "got %s", argv[0] ? "an empty string" : "NULL");
    check(envp == environ, "main's third parameter is environ", "envp %p, environ %p",
          (void *)envp, (void *)environ);
}

static void check_variables(void) {
    check_string("getenv of a variable the runner sets", "forty-two", getenv("SEPTA_TEST_VALUE"));
    const char *home = getenv("HOME");
    check(home != NULL && home[0] == '/', "getenv HOME is an absolute path", "got %s",
          home ? home : "NULL");
    check(getenv("SEPTA_TEST_MISSING_NAME") == NULL && getenv("SEPTA_TEST_VALUE=") == NULL,
          "getenv of a missing name is NULL", "got a value");

    int steps[3];
    steps[0] = setenv("SEPTA_NEW", "first", 1);
    steps[1] = setenv("SEPTA_NEW", "second", 0);
    const char *kept = getenv("SEPTA_NEW");
    int kept_ok = kept != NULL && strcmp(kept, "first") == 0;
    steps[2] = setenv("SEPTA_NEW", "third", 1);
    const char *replaced = getenv("SEPTA_NEW");
    check(steps[0] == 0 && steps[1] == 0 && steps[2] == 0 && kept_ok && replaced != NULL &&
              strcmp(replaced, "third") == 0 && in_environ("SEPTA_NEW=third"),
          "setenv creates keeps and overwrites", "results %d %d %d, kept %d, now %s", steps[0],
          steps[1], steps[2], kept_ok, replaced ? replaced : "NULL");

    errno = 0;
    int with_equals = setenv("SEPTA=BAD", "x", 1), equals_error = errno;
    errno = 0;
    int empty = setenv("", "x", 1), empty_error = errno;
    check(with_equals == -1 && equals_error == EINVAL && empty == -1 && empty_error == EINVAL,
          "setenv rejects invalid names with EINVAL", "got %d/%d and %d/%d", with_equals,
          equals_error, empty, empty_error);

    int removed = unsetenv("SEPTA_NEW");
    int missing = unsetenv("SEPTA_NEVER_SET");
    check(removed == 0 && missing == 0 && getenv("SEPTA_NEW") == NULL &&
              !in_environ("SEPTA_NEW=third"),
          "unsetenv removes and ignores missing names", "results %d and %d, value %s", removed,
          missing, getenv("SEPTA_NEW") ? getenv("SEPTA_NEW") : "NULL");

    static char entry[] = "SEPTA_PUT=one";
    int put = putenv(entry);
    const char *first = getenv("SEPTA_PUT");
    int first_ok = first != NULL && strcmp(first, "one") == 0;
    memcpy(entry + strlen("SEPTA_PUT="), "two", 3);
    const char *second = getenv("SEPTA_PUT");
    check(put == 0 && first_ok && second != NULL && strcmp(second, "two") == 0,
          "putenv inserts the string itself", "result %d, first %d, after the edit %s", put,
          first_ok, second ? second : "NULL");

    int listed = 0, malformed = 0;
    for (char **variable = environ; *variable != NULL; variable++) {
        listed++;
        if (strchr(*variable, '=') == NULL) malformed++;
    }
    check(listed >= 3 && malformed == 0 && in_environ("SEPTA_TEST_VALUE=forty-two") &&
              in_environ("SEPTA_PUT=two"),
          "environ lists every variable as NAME=value", "%d entries, %d without '='", listed,
          malformed);
}

int main(int argc, char **argv, char **envp) {
    check_plan("environment", PLAN);
    check_arguments(argc, argv, envp);
    check_variables();
    return check_finish();
}
