/*
 * greeting.h: the interface of libgreeting, the static library of the CMake
 * test project.
 */
#ifndef SEPTA_GREETING_H
#define SEPTA_GREETING_H

#include <stddef.h>

/*
 * Writes "Hello, <name>!" into `buffer` (at most `size` bytes, NUL included)
 * and returns the length of the whole greeting, as snprintf does.
 */
int greeting_compose(char *buffer, size_t size, const char *name);

/* The number of words (runs of letters) in `text`. */
size_t greeting_count_words(const char *text);

#endif
