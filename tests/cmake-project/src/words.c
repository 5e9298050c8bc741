/* words.c: counts words (the second of libgreeting's two sources). */
#include "greeting.h"

#include <ctype.h>

size_t greeting_count_words(const char *text) {
    size_t words = 0;
    int in_word = 0;
    for (; *text != '\0'; text++) {
        int letter = isalpha((unsigned char)*text) != 0;
        words += letter && !in_word;
        in_word = letter;
    }
    return words;
}
