/*
 * main.c: cmake-hello, the CMake test project's program.
 *
 * Checks that libgreeting (two sources, one static library) links and computes
 * what it should, that the configure-time checks found pthread.h and
 * clock_gettime and reached the code through config.h and a compile
 * definition, that the project version came through, and that a thread
 * (linked through Threads::Threads) ran library code.
 */
#include "check.h"
#include "config.h"
#include "greeting.h"

#include <pthread.h>
#include <time.h>

#define PLAN 6

struct job {
    char greeting[32];
    int length;
};

static void *greet_from_thread(void *argument) {
    struct job *job = argument;
    job->length = greeting_compose(job->greeting, sizeof job->greeting, "thread");
    return job;
}

int main(void) {
    check_plan("cmake-hello", PLAN);

    char text[32];
    int length = greeting_compose(text, sizeof text, "Septa");
    check(length == 13 && strcmp(text, "Hello, Septa!") == 0, "library greeting",
          "expected \"Hello, Septa!\" (13), got \"%s\" (%d)", text, length);
    check_long("library word count", 4, greeting_count_words("Hello, brave new world"));

    check(HAVE_PTHREAD_H == 1 && HAVE_CLOCK_GETTIME == 1, "configure checks in config.h",
          "HAVE_PTHREAD_H %d, HAVE_CLOCK_GETTIME %d", HAVE_PTHREAD_H, HAVE_CLOCK_GETTIME);

    struct timespec now = {-1, -1};
    int clock_result = HAVE_CLOCK_GETTIME_DEFINE ? clock_gettime(CLOCK_MONOTONIC, &now) : -1;
    check(HAVE_CLOCK_GETTIME_DEFINE == 1 && clock_result == 0 && now.tv_nsec >= 0,
          "configured define is 1 and clock_gettime works", "define %d, clock_gettime %d",
          HAVE_CLOCK_GETTIME_DEFINE, clock_result);

    check_string("project version", "1.2.3", PROJECT_VERSION_TEXT);

    struct job job = {"", -1};
    pthread_t thread;
    void *result = NULL;
    int created = pthread_create(&thread, NULL, greet_from_thread, &job);
    int joined = created == 0 ? pthread_join(thread, &result) : -1;
    check(created == 0 && joined == 0 && result == &job &&
              strcmp(job.greeting, "Hello, thread!") == 0,
          "a thread ran library code", "create %d, join %d, greeting \"%s\"", created, joined,
          job.greeting);

    return check_finish();
}
