/*
 * qsort.c: sorting and binary search.
 *
 * qsort of integers, strings and structures (with a tiebreak on the original
 * position, so the result is fully determined), of 10,000 pseudo-random
 * elements verified sorted and a permutation of the input, of already sorted,
 * reversed, constant, empty and one-element arrays, of elements whose size is
 * not a multiple of the word; bsearch hits and misses.
 */
#include "check.h"

#include <stdint.h>

#define PLAN 9
#define COUNT 10000
#define VALUE_RANGE 1000

/* A fixed linear congruential generator: the same input on every system. */
static uint32_t random_state = 12345;
static uint32_t next_random(void) {
    random_state = random_state * 1103515245u + 12345u;
    return random_state >> 8;
}

static int compare_ints(const void *left, const void *right) {
    int a = *(const int *)left, b = *(const int *)right;
    return (a > b) - (a < b);
}

static int compare_strings(const void *left, const void *right) {
    return strcmp(*(const char *const *)left, *(const char *const *)right);
}

struct record {
    int key;
    int position;
    char payload[13]; /* makes the element 24 bytes on the usual ABIs */
};

static int compare_records(const void *left, const void *right) {
    const struct record *a = left, *b = right;
    if (a->key != b->key) {
        return (a->key > b->key) - (a->key < b->key);
    }
    return (a->position > b->position) - (a->position < b->position);
}

/* Odd-sized elements: 7 bytes, compared as a big-endian number. */
static int compare_triples(const void *left, const void *right) {
    return memcmp(left, right, 7);
}

static int first_unsorted(const int *values, size_t count) {
    for (size_t index = 1; index < count; index++) {
        if (values[index - 1] > values[index]) {
            return (int)index;
        }
    }
    return -1;
}

static int values[COUNT];
static int histogram_before[VALUE_RANGE];
static int histogram_after[VALUE_RANGE];
static struct record records[COUNT];
static unsigned char triples[COUNT][7];

static void check_random_ints(void) {
    for (size_t index = 0; index < COUNT; index++) {
        values[index] = (int)(next_random() % VALUE_RANGE) - VALUE_RANGE / 2;
        histogram_before[values[index] + VALUE_RANGE / 2]++;
    }
    qsort(values, COUNT, sizeof values[0], compare_ints);
    for (size_t index = 0; index < COUNT; index++) {
        histogram_after[values[index] + VALUE_RANGE / 2]++;
    }
    int unsorted = first_unsorted(values, COUNT);
    check(unsorted < 0, "qsort of 10000 random ints is ordered", "out of order at index %d",
          unsorted);
    check(memcmp(histogram_before, histogram_after, sizeof histogram_before) == 0,
          "qsort of 10000 random ints is a permutation", "the multiset of values changed");

    int missing = -1, found_wrong = -1;
    for (int key = -VALUE_RANGE / 2; key < VALUE_RANGE / 2; key++) {
        const int *hit = bsearch(&key, values, COUNT, sizeof values[0], compare_ints);
        int present = histogram_before[key + VALUE_RANGE / 2] > 0;
        if (present && (hit == NULL || *hit != key)) {
            found_wrong = key;
        }
        if (!present && hit != NULL) {
            missing = key;
        }
    }
    int absent = VALUE_RANGE;
    const void *beyond = bsearch(&absent, values, COUNT, sizeof values[0], compare_ints);
    check(found_wrong < 0 && missing < 0 && beyond == NULL, "bsearch hits and misses",
          "key %d not found, key %d found though absent, beyond %p", found_wrong, missing, beyond);
}

static void check_shapes(void) {
    int failed_shape = 0;
    for (int shape = 1; shape <= 3; shape++) {
        for (int index = 0; index < COUNT; index++) {
            values[index] = shape == 1 ? index : shape == 2 ? COUNT - index : 7;
        }
        qsort(values, COUNT, sizeof values[0], compare_ints);
        int expected_first = shape == 3 ? 7 : shape == 1 ? 0 : 1;
        if (first_unsorted(values, COUNT) >= 0 || values[0] != expected_first) {
            failed_shape = shape;
        }
    }
    check(failed_shape == 0, "qsort of sorted reversed and constant arrays",
          "shape %d (1 sorted, 2 reversed, 3 constant) came out wrong", failed_shape);

    int single = 5;
    qsort(&single, 0, sizeof single, compare_ints);
    qsort(&single, 1, sizeof single, compare_ints);
    check(single == 5, "qsort of zero and one element", "expected 5, got %d", single);
}

static void check_strings(void) {
    const char *fruit[] = {"pear", "apple", "fig", "banana", "cherry", "apple", "Zucchini", ""};
    const char *expected[] = {"", "Zucchini", "apple", "apple", "banana", "cherry", "fig", "pear"};
    size_t count = sizeof fruit / sizeof fruit[0];
    qsort(fruit, count, sizeof fruit[0], compare_strings);
    size_t wrong = count;
    for (size_t index = 0; index < count && wrong == count; index++) {
        if (strcmp(fruit[index], expected[index]) != 0) {
            wrong = index;
        }
    }
    check(wrong == count, "qsort of strings", "position %zu holds \"%s\"", wrong,
          wrong < count ? fruit[wrong] : "");

    const char *key = "cherry";
    const char *const *hit = bsearch(&key, fruit, count, sizeof fruit[0], compare_strings);
    check(hit != NULL && hit - fruit == 5, "bsearch of a string", "expected index 5, got %td",
          hit ? hit - fruit : -1);
}

static void check_records(void) {
    for (int index = 0; index < COUNT; index++) {
        records[index].key = (int)(next_random() % 50);
        records[index].position = index;
        snprintf(records[index].payload, sizeof records[index].payload, "r%d", index);
    }
    qsort(records, COUNT, sizeof records[0], compare_records);
    int bad = -1;
    for (int index = 1; index < COUNT && bad < 0; index++) {
        const struct record *previous = &records[index - 1], *current = &records[index];
        char expected_payload[sizeof current->payload];
        snprintf(expected_payload, sizeof expected_payload, "r%d", current->position);
        if (previous->key > current->key ||
            (previous->key == current->key && previous->position >= current->position) ||
            strcmp(current->payload, expected_payload) != 0) {
            bad = index;
        }
    }
    check(bad < 0, "qsort of structures with a tiebreak on position",
          "record %d is out of order or its payload moved apart from it", bad);

    for (int index = 0; index < COUNT; index++) {
        uint32_t number = next_random();
        unsigned char *triple = triples[index];
        triple[0] = (unsigned char)(number >> 16);
        triple[1] = (unsigned char)(number >> 8);
        for (int byte = 2; byte < 7; byte++) {
            triple[byte] = (unsigned char)(index >> (byte % 2 ? 8 : 0));
        }
    }
    qsort(triples, COUNT, sizeof triples[0], compare_triples);
    int out_of_order = -1;
    for (int index = 1; index < COUNT && out_of_order < 0; index++) {
        if (memcmp(triples[index - 1], triples[index], 7) > 0) {
            out_of_order = index;
        }
    }
    check(out_of_order < 0, "qsort of 7-byte elements", "out of order at index %d", out_of_order);
}

int main(void) {
    check_plan("qsort", PLAN);
    check_random_ints();
    check_shapes();
    check_strings();
    check_records();
    return check_finish();
}
