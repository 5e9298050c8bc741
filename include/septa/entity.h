/* <septa/entity.h>: who this entity is and which capabilities the system description gave it.
 *
 * Implemented by libposix (libposix/src/septa_api.rs), inside the sysroot's libc.a.
 * Functions returning `long` give a non-negative value or a negated errno value, like the raw
 * system calls; they do not set errno. */
#ifndef SEPTA_ENTITY_H
#define SEPTA_ENTITY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The calling entity's identity, as the kernel and the security monitor know it. getpid()
 * is this plus one (a process id is never 0). */
uint32_t septa_entity_id(void);

/* The capability handle the system description names `name` for this entity (the names an
 * entity's `connections` give it), or -ENOENT when there is none; -EFAULT for a null name. */
long septa_handle(const char *name);

#ifdef __cplusplus
}
#endif

#endif
