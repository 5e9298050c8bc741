/* greeting.c: composes greetings (the first of libgreeting's two sources). */
#include "greeting.h"

#include <stdio.h>

int greeting_compose(char *buffer, size_t size, const char *name) {
    return snprintf(buffer, size, "Hello, %s!", name);
}
