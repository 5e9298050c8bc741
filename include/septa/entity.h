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

/* Maps the shared-memory region held by capability `handle` at an address libposix picks
 * (readable, and writable when the capability allows), stores that address in `*address` and
 * returns the region's size in bytes; -EBADF when `handle` names no region, -ENOMEM when
 * there is no room, -EFAULT for a null `address`. */
long septa_shared_memory_map(uint32_t handle, void **address);

#ifdef __cplusplus
}
#endif

#endif
