//! Routing: which server handles a path or a socket family, from the start-up block's routes.
//!
//! The routes come from the system description, compiled by the image tool into both the
//! monitor's tables and every entity's start-up block, so libposix and the monitor never
//! disagree. A path goes to the mount with the longest prefix that matches it on a component
//! boundary (`/data` serves `/data` and `/data/x`, not `/database`); `AF_UNIX` goes to the
//! internal net VFS and `AF_INET`/`AF_INET6` to the external one.

use septa_abi::startup::route;

use crate::startup::{Route, StartupBlock};

/// The mount serving a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mount<'a> {
    /// The file VFS's handle.
    pub handle: u32,
    /// The mount's prefix as the block gives it.
    pub prefix: &'a [u8],
    /// The path below the prefix, starting with `/` (`/` for the mount point itself).
    pub inside: &'a [u8],
}

/// A socket family libposix can route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `AF_UNIX`.
    Unix,
    /// `AF_INET` and `AF_INET6`.
    Inet,
}

impl Family {
    /// The family of a Linux `AF_*` domain, if libposix routes it.
    pub fn of_domain(domain: i32) -> Option<Family> {
        match domain {
            libc::AF_UNIX => Some(Family::Unix),
            libc::AF_INET | libc::AF_INET6 => Some(Family::Inet),
            _ => None,
        }
    }
}

/// A prefix without its trailing slashes (the root stays `/`).
fn trimmed(prefix: &[u8]) -> &[u8] {
    let mut end = prefix.len();
    while end > 1 && prefix[end - 1] == b'/' {
        end -= 1;
    }
    &prefix[..end]
}

/// The part of `path` below `prefix`, if `prefix` matches on a component boundary.
fn inside<'a>(prefix: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    if prefix == b"/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    match rest.first() {
        None => Some(b"/"),
        Some(b'/') => Some(rest),
        Some(_) => None,
    }
}

/// The mount serving the normalised absolute `path`, by longest prefix; prefixes that are not
/// absolute are ignored.
pub fn mount_for<'a>(block: &StartupBlock<'a>, path: &'a [u8]) -> Option<Mount<'a>> {
    let mut best: Option<Mount<'a>> = None;
    for Route {
        kind,
        handle,
        prefix,
        ..
    } in block.routes()
    {
        if kind != route::MOUNT || prefix.first() != Some(&b'/') {
            continue;
        }
        let prefix = trimmed(prefix);
        let Some(inside) = inside(prefix, path) else {
            continue;
        };
        if best.is_none_or(|best| prefix.len() > best.prefix.len()) {
            best = Some(Mount {
                handle,
                prefix,
                inside,
            });
        }
    }
    best
}

/// The server handling sockets of `family`.
pub fn socket_server(block: &StartupBlock<'_>, family: Family) -> Option<u32> {
    let wanted = match family {
        Family::Unix => route::UNIX,
        Family::Inet => route::INET,
    };
    block
        .routes()
        .find(|route| route.kind == wanted)
        .map(|route| route.handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::build;

    fn with_routes<T>(routes: &[(u32, u32, &str)], check: impl FnOnce(&StartupBlock) -> T) -> T {
        let bytes = build::block(1, &["test"], &[], routes);
        check(&StartupBlock::new_checked(&bytes).unwrap())
    }

    #[test]
    fn the_longest_matching_prefix_wins() {
        let routes = [
            (route::MOUNT, 1, "/"),
            (route::MOUNT, 2, "/data"),
            (route::MOUNT, 3, "/data/cache/"),
        ];
        with_routes(&routes, |block| {
            let handle = |path: &[u8]| mount_for(block, path).map(|mount| mount.handle);
            assert_eq!(handle(b"/etc/passwd"), Some(1));
            assert_eq!(handle(b"/data"), Some(2));
            assert_eq!(handle(b"/data/file"), Some(2));
            assert_eq!(handle(b"/database"), Some(1));
            assert_eq!(handle(b"/data/cache"), Some(3));
            assert_eq!(handle(b"/data/cache/x"), Some(3));
            assert_eq!(handle(b"/data/cachet"), Some(2));
            let mount = mount_for(block, b"/data/cache/x/y").unwrap();
            assert_eq!(mount.prefix, b"/data/cache");
            assert_eq!(mount.inside, b"/x/y");
            assert_eq!(mount_for(block, b"/data").unwrap().inside, b"/");
            assert_eq!(mount_for(block, b"/etc").unwrap().inside, b"/etc");
        });
    }

    #[test]
    fn paths_without_a_mount_have_no_route() {
        let routes = [(route::MOUNT, 2, "/data"), (route::MOUNT, 4, "relative")];
        with_routes(&routes, |block| {
            assert_eq!(mount_for(block, b"/"), None);
            assert_eq!(mount_for(block, b"/etc"), None);
            assert_eq!(mount_for(block, b"/relative"), None);
        });
        with_routes(&[], |block| assert_eq!(mount_for(block, b"/"), None));
    }

    #[test]
    fn sockets_route_by_family() {
        let routes = [(route::UNIX, 8, ""), (route::INET, 9, ""), (99, 3, "")];
        with_routes(&routes, |block| {
            assert_eq!(socket_server(block, Family::Unix), Some(8));
            assert_eq!(socket_server(block, Family::Inet), Some(9));
            assert_eq!(mount_for(block, b"/x"), None);
        });
        with_routes(&[(route::UNIX, 8, "")], |block| {
            assert_eq!(socket_server(block, Family::Inet), None);
        });
        assert_eq!(Family::of_domain(libc::AF_INET6), Some(Family::Inet));
        assert_eq!(Family::of_domain(libc::AF_UNIX), Some(Family::Unix));
        assert_eq!(Family::of_domain(libc::AF_NETLINK), None);
    }
}
