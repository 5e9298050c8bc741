/* <septa/ipc.h>: raw IPC over the kernel's message format, for programs that talk to a Septa
 * server directly. Most programs never need it: libposix speaks to the file and net servers
 * for them.
 *
 * A message is a header, `fixed_size` bytes of fixed part, then `arena_size` bytes of arena
 * (variable-size fields, each referred to from the fixed part by a 32-bit offset and length),
 * at most SEPTA_MESSAGE_MAX_SIZE bytes in all. The kernel stamps `sender` on delivery; the
 * security monitor checks every request and reply against the system's policy. The layout is
 * kernel/abi/src/lib.rs's MessageHeader; both sides assert it.
 *
 * Implemented by libposix (libposix/src/septa_api.rs). Every function returns a non-negative
 * value or a negated errno value and does not set errno. Kernel errors map as everywhere in
 * libposix: bad handle -EBADF, missing right -EPERM, bad address -EFAULT, malformed message
 * -EINVAL, denied by the monitor -EACCES, timed out -ETIMEDOUT, peer gone -EIO, out of memory
 * -ENOMEM, message too large for the buffer -EMSGSIZE, nothing to wait for -EAGAIN. */
#ifndef SEPTA_IPC_H
#define SEPTA_IPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The fixed header at the start of every message. */
struct septa_message_header {
	uint32_t interface;    /* interface identifier, from the interface definition */
	uint32_t method;       /* method identifier within the interface */
	uint32_t fixed_size;   /* bytes of fixed part after the header */
	uint32_t arena_size;   /* bytes of arena after the fixed part */
	uint32_t handle_count; /* capabilities carried: must be 0 */
	uint32_t status;       /* in a reply: 0 for success, else a status code */
	uint32_t sender;       /* the sender's entity id, written by the kernel */
	uint32_t reserved;     /* must be 0 */
};

_Static_assert(sizeof(struct septa_message_header) == 32, "septa_message_header is 32 bytes");
_Static_assert(__builtin_offsetof(struct septa_message_header, status) == 20,
               "septa_message_header.status is at byte 20");
_Static_assert(__builtin_offsetof(struct septa_message_header, sender) == 24,
               "septa_message_header.sender is at byte 24");

#define SEPTA_MESSAGE_HEADER_SIZE 32
#define SEPTA_MESSAGE_FIXED_MAX 1024
#define SEPTA_MESSAGE_ARENA_MAX (15 * 1024)
#define SEPTA_MESSAGE_MAX_SIZE \
	(SEPTA_MESSAGE_HEADER_SIZE + SEPTA_MESSAGE_FIXED_MAX + SEPTA_MESSAGE_ARENA_MAX)

/* Reply status codes shared by every interface. */
#define SEPTA_STATUS_OK 0
#define SEPTA_STATUS_UNKNOWN_METHOD 1
#define SEPTA_STATUS_BAD_REQUEST 2
#define SEPTA_STATUS_APPLICATION 16

/* Timeouts, in nanoseconds. */
#define SEPTA_TIMEOUT_NEVER UINT64_MAX
#define SEPTA_TIMEOUT_NONE 0

/* Sends the whole message at `request` on the endpoint and waits for the reply, written to
 * `reply` (`reply_capacity` bytes). Returns the reply's length. */
long septa_ipc_call(uint32_t endpoint, const void *request, void *reply, size_t reply_capacity,
                    uint64_t timeout);

/* Waits for a request on the endpoint, written to `buffer` (`capacity` bytes). Stores the
 * sender's entity id at `sender` unless it is null. Returns the request's length. */
long septa_ipc_receive(uint32_t endpoint, void *buffer, size_t capacity, uint64_t timeout,
                       uint32_t *sender);

/* Replies with the whole message at `reply` to the request this thread last received.
 * Returns 0. */
long septa_ipc_reply(const void *reply);

/* Replies, then waits for the next request, in one kernel call; results as
 * septa_ipc_receive. */
long septa_ipc_reply_receive(const void *reply, uint32_t endpoint, void *buffer,
                             size_t capacity, uint64_t timeout, uint32_t *sender);

/* Asks the security monitor whether entity `source` may send the request message at
 * `request` to the calling entity, as it would decide for a call: 0 if so, -EACCES if not (the
 * kernel prints the audit line), -EINVAL for an unknown entity. A server uses it to check a
 * request again on what it resolved (the file VFS: a path after its symbolic links). */
long septa_monitor_check(uint32_t source, const void *request);

/* The kernel's own messages on an endpoint: a header alone, no reply owed. */
#define SEPTA_KERNEL_INTERFACE UINT32_MAX
#define SEPTA_KERNEL_CLIENT_ENDED 1 /* `sender` (an entity that could call it) ended */

/* From now on, a receive on `endpoint` (which needs the receive right) also yields the
 * kernel's SEPTA_KERNEL_CLIENT_ENDED message, before any request, when an entity holding a
 * capability to call it ends: how a server releases what it kept for that client. Returns 0. */
long septa_endpoint_watch(uint32_t endpoint);

/* Sets `bits` on a notification. Returns 0. */
long septa_notify(uint32_t notification, uint64_t bits);

/* Waits for bits on a notification, then takes and clears them, storing them at `bits`
 * unless it is null. Returns 0. */
long septa_wait(uint32_t notification, uint64_t timeout, uint64_t *bits);

#ifdef __cplusplus
}
#endif

#endif
