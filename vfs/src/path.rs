//! Path checking: every path from a client is checked again here before any rule or mount sees
//! it, so that `..`, repeated slashes, NUL and overlong paths cannot escape a rule or a mount.
//!
//! libposix sends absolute paths it has already normalised lexically. The server does not
//! normalise again: it *refuses* anything that is not already normal, so there is exactly one
//! spelling of every path the monitor's prefix rules and this server's mount table and
//! confinement rules compare.

use crate::errno::{Errno, Result};

/// Longest path, its NUL included (Linux's `PATH_MAX`): a path has at most 4,095 bytes.
pub const PATH_MAX: usize = 4096;
/// Longest path component (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// A client's path, checked: absolute, normal, within the limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPath<'a> {
    /// The components after the root, in order (none for `/`).
    pub components: Vec<&'a str>,
    /// The path ended in `/` (`/a/b/`): what it names must be a directory.
    pub directory_required: bool,
}

/// Checks a path from a client, with Linux's errors where Linux has one:
///
/// - empty: `ENOENT`;
/// - a NUL anywhere (which C cannot pass, but a message can): `EINVAL`;
/// - 4,096 bytes or more, or a component over 255 bytes: `ENAMETOOLONG`;
/// - not absolute, or not normal (an empty, `.` or `..` component, `//`): `EINVAL`. Linux
///   would resolve these; libposix never sends them, so anything that does is refused rather
///   than interpreted.
///
/// One trailing slash is allowed and kept as [`CheckedPath::directory_required`].
pub fn check(path: &str) -> Result<CheckedPath<'_>> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let Some(relative) = path.strip_prefix('/') else {
        return Err(Errno::EINVAL);
    };
    if relative.is_empty() {
        return Ok(CheckedPath {
            components: Vec::new(),
            directory_required: false,
        });
    }
    let (relative, directory_required) = match relative.strip_suffix('/') {
        Some(stripped) => (stripped, true),
        None => (relative, false),
    };
    let mut components = Vec::new();
    for component in relative.split('/') {
        check_component(component)?;
        components.push(component);
    }
    Ok(CheckedPath {
        components,
        directory_required,
    })
}

/// Checks one component of a client's path: not empty, `.` or `..` (`EINVAL`), at most
/// [`NAME_MAX`] bytes (`ENAMETOOLONG`).
fn check_component(component: &str) -> Result<()> {
    if component.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    match component {
        "" | "." | ".." => Err(Errno::EINVAL),
        _ => Ok(()),
    }
}

/// Checks a name a file system is asked to create or look up: a single component, no `/` or
/// NUL, not `.` or `..`.
pub fn check_name(name: &str) -> Result<()> {
    if name.contains(['/', '\0']) {
        return Err(Errno::EINVAL);
    }
    check_component(name)
}

/// Checks the target a symbolic link is to hold: any bytes but NUL, not empty (`ENOENT`, as
/// Linux), shorter than [`PATH_MAX`].
pub fn check_link_target(target: &str) -> Result<()> {
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    if target.contains('\0') {
        return Err(Errno::EINVAL);
    }
    if target.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// Whether `path` is `prefix` or lies below it, on a component boundary (`/data` holds
/// `/data/x`, not `/database`). Both are normal absolute paths.
pub fn is_within(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return path.starts_with('/');
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// `directory` joined with `name` (`/` + `a` is `/a`, `/a` + `b` is `/a/b`).
pub fn join(directory: &str, name: &str) -> String {
    let mut joined = String::with_capacity(directory.len() + 1 + name.len());
    joined.push_str(directory);
    if !directory.ends_with('/') {
        joined.push('/');
    }
    joined.push_str(name);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_paths_pass() {
        assert_eq!(check("/").unwrap().components, Vec::<&str>::new());
        assert_eq!(check("/a/b").unwrap().components, vec!["a", "b"]);
        let with_slash = check("/a/b/").unwrap();
        assert_eq!(with_slash.components, vec!["a", "b"]);
        assert!(with_slash.directory_required);
        assert!(!check("/a").unwrap().directory_required);
        assert_eq!(check("/...").unwrap().components, vec!["..."]);
        assert_eq!(check("/.hidden").unwrap().components, vec![".hidden"]);
    }

    #[test]
    fn escapes_are_refused() {
        assert_eq!(check("/a/../.."), Err(Errno::EINVAL));
        assert_eq!(check("/.."), Err(Errno::EINVAL));
        assert_eq!(check("/a/./b"), Err(Errno::EINVAL));
        assert_eq!(check("//etc"), Err(Errno::EINVAL));
        assert_eq!(check("/etc//passwd"), Err(Errno::EINVAL));
        assert_eq!(check("/etc//"), Err(Errno::EINVAL));
        assert_eq!(check("etc/passwd"), Err(Errno::EINVAL));
        assert_eq!(check("./etc"), Err(Errno::EINVAL));
        assert_eq!(check("/etc\0/../secret"), Err(Errno::EINVAL));
        assert_eq!(check("/tmp/a\0"), Err(Errno::EINVAL));
        assert_eq!(check(""), Err(Errno::ENOENT));
    }

    #[test]
    fn limits_are_linux_limits() {
        let longest_name = "n".repeat(NAME_MAX);
        assert!(check(&format!("/{longest_name}")).is_ok());
        let too_long_name = "n".repeat(NAME_MAX + 1);
        assert_eq!(
            check(&format!("/{too_long_name}")),
            Err(Errno::ENAMETOOLONG)
        );
        // 4,095 bytes pass, 4,096 do not.
        let mut path = String::new();
        while path.len() + 101 < PATH_MAX {
            path.push('/');
            path.push_str(&"x".repeat(100));
        }
        path.push('/');
        path.push_str(&"y".repeat(PATH_MAX - 1 - path.len()));
        assert_eq!(path.len(), PATH_MAX - 1);
        assert!(check(&path).is_ok());
        path.push('z');
        assert_eq!(check(&path), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn names_and_link_targets() {
        assert!(check_name("file.txt").is_ok());
        assert_eq!(check_name("a/b"), Err(Errno::EINVAL));
        assert_eq!(check_name(".."), Err(Errno::EINVAL));
        assert_eq!(check_name(""), Err(Errno::EINVAL));
        assert_eq!(check_name("a\0"), Err(Errno::EINVAL));
        assert!(check_link_target("../anything//at/all").is_ok());
        assert_eq!(check_link_target(""), Err(Errno::ENOENT));
        assert_eq!(check_link_target("a\0b"), Err(Errno::EINVAL));
        assert_eq!(
            check_link_target(&"t".repeat(PATH_MAX)),
            Err(Errno::ENAMETOOLONG)
        );
    }

    #[test]
    fn prefixes_match_on_component_boundaries() {
        assert!(is_within("/data/x", "/data"));
        assert!(is_within("/data", "/data"));
        assert!(!is_within("/database", "/data"));
        assert!(is_within("/anything", "/"));
        assert!(!is_within("/", "/data"));
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
