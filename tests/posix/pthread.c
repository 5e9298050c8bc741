/*
 * pthread.c: POSIX threads and the synchronisation built on them.
 *
 * Eight threads increment a mutex-protected counter to an exact total; join
 * return values; pthread_self and pthread_equal; _Thread_local and __thread
 * variables initialised from .tdata and .tbss and distinct per thread; thread
 * keys with their destructors run at thread exit; pthread_once; a barrier; a
 * producer/consumer queue on condition variables; pthread_cond_broadcast
 * waking every waiter; a detached thread; pthread_mutex_trylock; a recursive
 * mutex; POSIX semaphores (a blocking wait across threads, trywait,
 * getvalue); pthread_cond_timedwait timing out after 50 ms.
 */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define PLAN 16
#define THREADS 8
#define INCREMENTS 20000
#define ITEMS 1000

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static _Thread_local int tls_initialised = 1234;          /* .tdata */
static __thread int tls_zeroed;                          /* .tbss */
static _Thread_local const char *tls_text = "initial";   /* .tdata, relocated */
static __thread int tls_array[4] = {1, 2, 3, 4};

static pthread_barrier_t all_started; /* keeps every worker alive while addresses are taken */
static pthread_key_t key;
static atomic_int destructor_calls;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int once_calls;

struct worker {
    int index;
    pthread_t self;
    int tls_fresh;       /* the thread-local variables had their initial values */
    int tls_kept;        /* the thread saw only its own writes */
    void *tls_address;
    int specific_ok;
    int destroyed;
};
static struct worker workers[THREADS];

static void destroy_specific(void *value) {
    ((struct worker *)value)->destroyed = 1;
    atomic_fetch_add(&destructor_calls, 1);
}

static void count_once(void) { atomic_fetch_add(&once_calls, 1); }

static void *work(void *argument) {
    struct worker *worker = argument;
    worker->self = pthread_self();
    worker->tls_fresh = tls_initialised == 1234 && tls_zeroed == 0 &&
                        strcmp(tls_text, "initial") == 0 && tls_array[0] == 1 && tls_array[3] == 4;
    tls_initialised = worker->index;
    tls_zeroed = -worker->index;
    tls_array[3] = worker->index;
    worker->tls_address = &tls_initialised;
    pthread_setspecific(key, worker);
    pthread_once(&once, count_once);
    pthread_barrier_wait(&all_started);
    for (int step = 0; step < INCREMENTS; step++) {
        pthread_mutex_lock(&counter_lock);
        counter++;
        pthread_mutex_unlock(&counter_lock);
        if (step % 1000 == 0) sched_yield();
    }
    worker->tls_kept = tls_initialised == worker->index && tls_zeroed == -worker->index &&
                       tls_array[3] == worker->index;
    worker->specific_ok = pthread_getspecific(key) == worker;
    return (void *)(intptr_t)(worker->index * 10 + 1);
}

static void check_workers(void) {
    pthread_key_create(&key, destroy_specific);
    pthread_barrier_init(&all_started, NULL, THREADS);
    pthread_t threads[THREADS];
    int created = 0, failure = 0;
    for (int index = 0; index < THREADS && failure == 0; index++) {
        workers[index].index = index + 1;
        failure = pthread_create(&threads[index], NULL, work, &workers[index]);
        created += failure == 0;
    }
    if (created != THREADS) {
        /* The created workers wait at a barrier for all eight: stop rather than hang. */
        check(0, "mutex-protected counter", "pthread_create failed with %d after %d threads",
              failure, created);
        exit(check_finish());
    }
    int wrong_return = -1, fresh = 1, kept = 1, distinct = 1, specific = 1, destroyed = 1;
    int equal = 1;
    for (int index = 0; index < created; index++) {
        void *result = NULL;
        if (pthread_join(threads[index], &result) != 0 ||
            result != (void *)(intptr_t)(index * 10 + 11))
            wrong_return = index;
        const struct worker *worker = &workers[index];
        fresh = fresh && worker->tls_fresh;
        kept = kept && worker->tls_kept;
        specific = specific && worker->specific_ok;
        destroyed = destroyed && worker->destroyed;
        equal = equal && pthread_equal(worker->self, threads[index]) &&
                !pthread_equal(worker->self, pthread_self());
        for (int other = 0; other < index; other++)
            distinct = distinct && workers[other].tls_address != worker->tls_address;
    }
    check(created == THREADS && counter == (long)THREADS * INCREMENTS, "mutex-protected counter",
          "expected %d threads and %ld, got %d and %ld", THREADS, (long)THREADS * INCREMENTS,
          created, counter);
    check(wrong_return < 0, "pthread_join return values", "thread %d returned a wrong value",
          wrong_return);
    check(equal && pthread_equal(pthread_self(), pthread_self()), "pthread_self and pthread_equal",
          "a thread's pthread_self differs from its creation id or equals the main thread's");
    check(fresh, "thread-locals start from .tdata and .tbss", "a thread saw non-initial values");
    check(kept && distinct && tls_initialised == 1234 && tls_zeroed == 0 && tls_array[3] == 4,
          "thread-locals are distinct per thread",
          "values kept %d, addresses distinct %d, main thread sees %d %d %d", kept, distinct,
          tls_initialised, tls_zeroed, tls_array[3]);
    check(specific && pthread_getspecific(key) == NULL, "pthread_getspecific per thread",
          "per-thread values %d, main's value %p", specific, pthread_getspecific(key));
    check(destroyed && atomic_load(&destructor_calls) == THREADS,
          "key destructors run at thread exit",
          "expected %d calls, got %d", THREADS, atomic_load(&destructor_calls));
    check_long("pthread_once runs its routine once", 1, atomic_load(&once_calls));
}

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static int queue[4], queue_head, queue_length, producer_done;
static long consumed_sum, consumed_count;

static void *produce(void *unused) {
    (void)unused;
    for (int item = 1; item <= ITEMS; item++) {
        pthread_mutex_lock(&queue_lock);
        while (queue_length == 4) pthread_cond_wait(&not_full, &queue_lock);
        queue[(queue_head + queue_length++) % 4] = item;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&queue_lock);
    }
    pthread_mutex_lock(&queue_lock);
    producer_done = 1;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&queue_lock);
    return NULL;
}

static void *consume(void *unused) {
    (void)unused;
    pthread_mutex_lock(&queue_lock);
    for (;;) {
        while (queue_length == 0 && !producer_done) pthread_cond_wait(&not_empty, &queue_lock);
        if (queue_length == 0) break;
        consumed_sum += queue[queue_head];
        consumed_count++;
        queue_head = (queue_head + 1) % 4;
        queue_length--;
        pthread_cond_signal(&not_full);
    }
    pthread_mutex_unlock(&queue_lock);
    return NULL;
}

static pthread_cond_t gate = PTHREAD_COND_INITIALIZER, arrival = PTHREAD_COND_INITIALIZER;
static int gate_open, waiting, passed, gave_up;

static void *wait_at_gate(void *unused) {
    (void)unused;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 20; /* a missed wakeup fails the check rather than hanging */
    pthread_mutex_lock(&queue_lock);
    waiting++;
    pthread_cond_signal(&arrival);
    while (!gate_open) {
        if (pthread_cond_timedwait(&gate, &queue_lock, &deadline) == ETIMEDOUT) {
            gave_up++;
            break;
        }
    }
    passed += gate_open;
    pthread_mutex_unlock(&queue_lock);
    return NULL;
}

static void check_conditions(void) {
    pthread_t producer, consumers[2], waiters[4];
    pthread_create(&producer, NULL, produce, NULL);
    for (int index = 0; index < 2; index++) pthread_create(&consumers[index], NULL, consume, NULL);
    pthread_join(producer, NULL);
    for (int index = 0; index < 2; index++) pthread_join(consumers[index], NULL);
    check(consumed_count == ITEMS && consumed_sum == (long)ITEMS * (ITEMS + 1) / 2,
          "producer and consumers on condition variables",
          "expected %d items summing to %ld, got %ld and %ld",
          ITEMS, (long)ITEMS * (ITEMS + 1) / 2, consumed_count, consumed_sum);

    for (int index = 0; index < 4; index++) {
        pthread_create(&waiters[index], NULL, wait_at_gate, NULL);
    }
    pthread_mutex_lock(&queue_lock);
    while (waiting < 4) pthread_cond_wait(&arrival, &queue_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate);
    pthread_mutex_unlock(&queue_lock);
    for (int index = 0; index < 4; index++) pthread_join(waiters[index], NULL);
    check(passed == 4 && gave_up == 0, "pthread_cond_broadcast wakes every waiter",
          "expected 4 woken, got %d (%d timed out)", passed, gave_up);
}

static sem_t counted, detached_done; /* detached_done: a blocking sem_wait across threads */
static int detached_ran;

static void *run_detached(void *unused) {
    (void)unused;
    detached_ran = 1;
    sem_post(&detached_done);
    return NULL;
}

static void *try_lock(void *mutex) {
    int result = pthread_mutex_trylock(mutex);
    if (result == 0) pthread_mutex_unlock(mutex);
    return (void *)(intptr_t)result;
}

/* pthread_mutex_trylock from another thread, whose result is returned. */
static int try_from_other_thread(pthread_mutex_t *mutex) {
    pthread_t thread;
    void *result = (void *)(intptr_t)-1;
    if (pthread_create(&thread, NULL, try_lock, mutex) == 0) pthread_join(thread, &result);
    return (int)(intptr_t)result;
}

static void check_others(void) {
    sem_init(&detached_done, 0, 0);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int state = -1;
    pthread_attr_getdetachstate(&attributes, &state);
    pthread_t detached;
    int created = pthread_create(&detached, &attributes, run_detached, NULL);
    if (created == 0) sem_wait(&detached_done);
    check(created == 0 && detached_ran && state == PTHREAD_CREATE_DETACHED, "detached thread runs",
          "create %d, ran %d, state %d", created, detached_ran, state);

    pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&plain);
    int while_held = try_from_other_thread(&plain);
    pthread_mutex_unlock(&plain);
    int after = try_from_other_thread(&plain);
    check(while_held == EBUSY && after == 0, "pthread_mutex_trylock",
          "expected EBUSY (%d) then 0, got %d then %d", EBUSY, while_held, after);

    pthread_mutexattr_t recursive_attributes;
    pthread_mutexattr_init(&recursive_attributes);
    pthread_mutexattr_settype(&recursive_attributes, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_t recursive;
    pthread_mutex_init(&recursive, &recursive_attributes);
    int locks = pthread_mutex_lock(&recursive) | pthread_mutex_lock(&recursive) |
                pthread_mutex_lock(&recursive) | pthread_mutex_trylock(&recursive);
    int unlocks = pthread_mutex_unlock(&recursive) | pthread_mutex_unlock(&recursive) |
                  pthread_mutex_unlock(&recursive);
    int still_held = try_from_other_thread(&recursive);
    unlocks |= pthread_mutex_unlock(&recursive);
    int released = try_from_other_thread(&recursive);
    int not_owner = pthread_mutex_unlock(&recursive);
    check(locks == 0 && unlocks == 0 && still_held == EBUSY && released == 0 && not_owner == EPERM,
          "recursive mutex", "locks %d, unlocks %d, held %d, released %d, unowned unlock %d",
          locks, unlocks, still_held, released, not_owner);

    sem_init(&counted, 0, 0);
    errno = 0;
    int empty = sem_trywait(&counted), empty_error = errno, value = -1, taken, left = -1;
    sem_post(&counted);
    sem_post(&counted);
    sem_post(&counted);
    sem_getvalue(&counted, &value);
    taken = sem_trywait(&counted);
    sem_getvalue(&counted, &left);
    check(empty == -1 && empty_error == EAGAIN && value == 3 && taken == 0 && left == 2,
          "sem_trywait and sem_getvalue", "got %d/%d, value %d, trywait %d, value %d", empty,
          empty_error, value, taken, left);

    pthread_condattr_t condition_attributes;
    pthread_condattr_init(&condition_attributes);
    pthread_condattr_setclock(&condition_attributes, CLOCK_MONOTONIC);
    pthread_cond_t never;
    pthread_cond_init(&never, &condition_attributes);
    struct timespec start, deadline, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = start;
    deadline.tv_nsec += 50000000;
    if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }
    pthread_mutex_lock(&plain);
    int result = 0;
    while (result == 0) result = pthread_cond_timedwait(&never, &plain, &deadline);
    pthread_mutex_unlock(&plain);
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long elapsed = (end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
    check(result == ETIMEDOUT && elapsed >= 50000000,
          "pthread_cond_timedwait times out after 50 ms",
          "expected ETIMEDOUT (%d) after >= 50000000 ns, got %d after %lld ns", ETIMEDOUT, result,
          elapsed);
}

/* Each thread keeps running sums in floating-point registers across many switches (it yields
 * often, and the timer preempts it); a kernel that lost or mixed up threads' FP/SIMD
 * registers would corrupt a sum. Every value is an integer below 2^53, so the sums are exact. */
#define FLOAT_THREADS 4
#define FLOAT_ROUNDS 200000

static void *float_worker(void *argument) {
    double factor = (double)(uintptr_t)argument + 1.0;
    double sum = 0.0, squares = 0.0;
    for (long round = 1; round <= FLOAT_ROUNDS; round++) {
        sum += factor * (double)round;
        squares += (double)(round % 1000) * factor;
        if (round % 5000 == 0) sched_yield();
    }
    double expected_sum = factor * (double)FLOAT_ROUNDS * (FLOAT_ROUNDS + 1) / 2.0;
    double expected_squares = factor * (double)(FLOAT_ROUNDS / 1000) * (999.0 * 1000.0 / 2.0);
    return (void *)(uintptr_t)(sum == expected_sum && squares == expected_squares);
}

static void check_floating_point(void) {
    pthread_t threads[FLOAT_THREADS];
    int created = 0, exact = 0;
    for (uintptr_t index = 0; index < FLOAT_THREADS; index++)
        if (pthread_create(&threads[index], NULL, float_worker, (void *)index) == 0) created++;
    for (int index = 0; index < created; index++) {
        void *result = NULL;
        pthread_join(threads[index], &result);
        exact += result != NULL;
    }
    check(created == FLOAT_THREADS && exact == FLOAT_THREADS,
          "floating-point registers survive switches between threads",
          "%d of %d threads created, %d computed exact sums", created, FLOAT_THREADS, exact);
}

int main(void) {
    check_plan("pthread", PLAN);
    check_workers();
    check_conditions();
    check_others();
    check_floating_point();
    return check_finish();
}
