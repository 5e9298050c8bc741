//! Path normalisation: a program's path, relative to the working directory, made absolute and
//! free of `.`, `..` and repeated slashes, as routing and the File interface need it.
//!
//! Normalisation is lexical: `a/../b` is `b` whatever `a` is, so `..` after a symbolic link
//! leaves the link's parent, not its target's (as in Plan 9, and as a shell's `cd` does). The
//! File interface carries normalised paths only, so that the monitor's path rules see the path
//! the program named; the file VFS follows links inside it.

use crate::errno::{Errno, Result};

/// Longest path, its NUL included (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Longest path component (Linux's `NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// A normalised absolute path: starts with `/`, no empty, `.` or `..` components, no trailing
/// slash except for the root itself, shorter than [`PATH_MAX`].
#[derive(Clone)]
pub struct PathBuffer {
    bytes: [u8; PATH_MAX],
    length: usize,
}

impl PathBuffer {
    /// The root, `/`.
    pub const fn root() -> PathBuffer {
        let mut bytes = [0u8; PATH_MAX];
        bytes[0] = b'/';
        PathBuffer { bytes, length: 1 }
    }

    /// The path's bytes (no NUL).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }

    /// Replaces the path with `normalised`, a path that is normalised already (one this type
    /// held before); `ENAMETOOLONG` if it does not fit, `EINVAL` if it is not absolute.
    pub fn assign(&mut self, normalised: &[u8]) -> Result<()> {
        if normalised.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if normalised.first() != Some(&b'/') {
            return Err(Errno::EINVAL);
        }
        self.bytes[..normalised.len()].copy_from_slice(normalised);
        self.length = normalised.len();
        Ok(())
    }

    fn push_component(&mut self, component: &[u8]) -> Result<()> {
        let separator = usize::from(self.length > 1);
        let new_length = self.length + separator + component.len();
        if new_length >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if separator == 1 {
            self.bytes[self.length] = b'/';
        }
        self.bytes[self.length + separator..new_length].copy_from_slice(component);
        self.length = new_length;
        Ok(())
    }

    fn pop_component(&mut self) {
        let last_slash = self.bytes[..self.length]
            .iter()
            .rposition(|byte| *byte == b'/')
            .unwrap_or(0);
        self.length = last_slash.max(1);
    }
}

impl core::fmt::Debug for PathBuffer {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(formatter, "{:?}", core::str::from_utf8(self.as_bytes()))
    }
}

/// Normalises `path` (absolute, or relative to `working_directory`, itself normalised) into
/// `result`.
///
/// Errors as Linux gives them: an empty path is `ENOENT`; a path of `PATH_MAX` bytes or more,
/// or with a component longer than `NAME_MAX`, is `ENAMETOOLONG`. A NUL inside the path (which
/// C cannot pass, but a Rust caller could) is `EINVAL`.
pub fn normalise(
    working_directory: &PathBuffer,
    path: &[u8],
    result: &mut PathBuffer,
) -> Result<()> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if path[0] == b'/' {
        *result = PathBuffer::root();
    } else {
        result.bytes[..working_directory.length].copy_from_slice(working_directory.as_bytes());
        result.length = working_directory.length;
    }
    for component in path.split(|byte| *byte == b'/') {
        match component {
            b"" | b"." => {}
            b".." => result.pop_component(),
            _ if component.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
            _ => result.push_component(component)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn normalised(working_directory: &[u8], path: &[u8]) -> Result<Vec<u8>> {
        let mut directory = PathBuffer::root();
        let root = PathBuffer::root();
        normalise(&root, working_directory, &mut directory).unwrap();
        let mut result = PathBuffer::root();
        normalise(&directory, path, &mut result)?;
        Ok(result.as_bytes().to_vec())
    }

    #[test]
    fn absolute_paths_are_cleaned() {
        assert_eq!(normalised(b"/", b"/").unwrap(), b"/");
        assert_eq!(normalised(b"/", b"//data///file").unwrap(), b"/data/file");
        assert_eq!(normalised(b"/", b"/data/./file/").unwrap(), b"/data/file");
        assert_eq!(
            normalised(b"/", b"/data/../etc/passwd").unwrap(),
            b"/etc/passwd"
        );
        assert_eq!(normalised(b"/", b"/../../x").unwrap(), b"/x");
        assert_eq!(normalised(b"/", b"/a/b/..").unwrap(), b"/a");
        assert_eq!(normalised(b"/", b"/a/..").unwrap(), b"/");
    }

    #[test]
    fn relative_paths_join_the_working_directory() {
        assert_eq!(
            normalised(b"/home/user", b"notes.txt").unwrap(),
            b"/home/user/notes.txt"
        );
        assert_eq!(
            normalised(b"/home/user", b"../other").unwrap(),
            b"/home/other"
        );
        assert_eq!(normalised(b"/home/user", b".").unwrap(), b"/home/user");
        assert_eq!(normalised(b"/home/user", b"../../..").unwrap(), b"/");
        assert_eq!(normalised(b"/", b"a/b").unwrap(), b"/a/b");
    }

    #[test]
    fn bad_paths_get_linux_errors() {
        assert_eq!(normalised(b"/", b""), Err(Errno::ENOENT));
        assert_eq!(normalised(b"/", b"a\0b"), Err(Errno::EINVAL));
        let long = std::vec![b'a'; PATH_MAX];
        assert_eq!(normalised(b"/", &long), Err(Errno::ENAMETOOLONG));
        let component = std::vec![b'c'; NAME_MAX + 1];
        assert_eq!(normalised(b"/", &component), Err(Errno::ENAMETOOLONG));
        let component = std::vec![b'c'; NAME_MAX];
        assert!(normalised(b"/", &component).is_ok());
    }

    #[test]
    fn results_stay_under_path_max() {
        // 20 components of 250 bytes each: every one fits, the whole does not.
        let mut path = Vec::new();
        for _ in 0..20 {
            path.push(b'/');
            path.extend_from_slice(&[b'x'; 250]);
        }
        let mut directory = PathBuffer::root();
        let root = PathBuffer::root();
        normalise(&root, &path[..2510], &mut directory).unwrap();
        assert_eq!(normalised(b"/", &path[..2510]).unwrap().len(), 2510);
        // The same, relative to itself: 5,020 bytes.
        let mut result = PathBuffer::root();
        assert_eq!(
            normalise(&directory, &path[1..2510], &mut result),
            Err(Errno::ENAMETOOLONG)
        );
    }
}
