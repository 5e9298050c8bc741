//! Sockets: `socket` and `socketpair` routed by family; the calls on socket descriptors.
//!
//! `AF_UNIX` goes to the internal net VFS and `AF_INET`/`AF_INET6` to the external one, as the
//! start-up block's routes say. A family without a route is `EAFNOSUPPORT`. With a route the
//! server protocol is still to come, so the call is `ENOSYS` (counted). No descriptor is a
//! socket yet, so the calls on descriptors are `ENOTSOCK` (or `EBADF`).

use crate::errno::{Errno, Result};
use crate::routes::{Family, socket_server};
use crate::{files, startup};

/// Socket types and the flags `socket` accepts with them.
fn check_type(kind: i32) -> Result<()> {
    let flags = kind & (libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK);
    match kind & !flags {
        libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET | libc::SOCK_RAW => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

fn route(domain: i32) -> Result<u32> {
    let family = Family::of_domain(domain).ok_or(Errno::EAFNOSUPPORT)?;
    startup::block()
        .and_then(|block| socket_server(&block, family))
        .ok_or(Errno::EAFNOSUPPORT)
}

/// `socket`.
pub fn socket(domain: i32, kind: i32, _protocol: i32) -> Result<usize> {
    let _server = route(domain)?;
    check_type(kind)?;
    Err(Errno::ENOSYS)
}

/// `socketpair`: only `AF_UNIX` has pairs.
pub fn socketpair(domain: i32, kind: i32, _protocol: i32, _pair: usize) -> Result<usize> {
    // Linux answers EOPNOTSUPP for families that exist without pairs; libposix routes none of
    // those, so they are all unsupported families.
    if domain != libc::AF_UNIX {
        return Err(Errno::EAFNOSUPPORT);
    }
    let _server = route(domain)?;
    check_type(kind)?;
    Err(Errno::ENOSYS)
}

/// `bind`, `connect`, `listen`, `accept`, `send*`, `recv*`, `shutdown`, `*sockopt`,
/// `getsockname`, `getpeername`: the descriptor must be a socket.
pub fn on_descriptor(descriptor: i32) -> Result<usize> {
    files::description(descriptor)?;
    Err(Errno::ENOTSOCK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::build;
    use septa_abi::startup::route;

    #[test]
    fn families_route_or_are_unsupported() {
        build::install(build::block(1, &["test"], &[], &[(route::UNIX, 3, "")]));
        assert_eq!(
            socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0),
            Err(Errno::ENOSYS)
        );
        assert_eq!(
            socket(libc::AF_INET, libc::SOCK_STREAM, 0),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(
            socket(libc::AF_INET6, libc::SOCK_DGRAM, 0),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(
            socket(libc::AF_NETLINK, libc::SOCK_RAW, 0),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(socket(libc::AF_UNIX, 77, 0), Err(Errno::EINVAL));
        assert_eq!(
            socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, 0),
            Err(Errno::ENOSYS)
        );
        assert_eq!(
            socketpair(libc::AF_INET, libc::SOCK_STREAM, 0, 0),
            Err(Errno::EAFNOSUPPORT)
        );
        build::install(build::block(1, &["test"], &[], &[(route::INET, 5, "")]));
        assert_eq!(
            socket(libc::AF_INET6, libc::SOCK_DGRAM, 0),
            Err(Errno::ENOSYS)
        );
        assert_eq!(
            socket(libc::AF_UNIX, libc::SOCK_STREAM, 0),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(on_descriptor(1), Err(Errno::ENOTSOCK));
        assert_eq!(on_descriptor(-1), Err(Errno::EBADF));
    }
}
