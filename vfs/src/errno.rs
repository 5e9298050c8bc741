//! Error numbers: the Linux errno values the server answers with, and their reply status.

use septa_abi::status;

/// A Linux errno value (positive), as the target's musl ABI numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

/// What every operation of the server and of a [`crate::FileSystem`] returns.
pub type Result<T> = core::result::Result<T, Errno>;

macro_rules! errno_constants {
    ($($name:ident),* $(,)?) => {
        impl Errno {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: Errno = Errno(libc::$name);
            )*
        }
    };
}

errno_constants!(
    EPERM,
    ENOENT,
    EIO,
    ENXIO,
    EBADF,
    EACCES,
    EBUSY,
    EEXIST,
    EXDEV,
    ENOTDIR,
    EISDIR,
    EINVAL,
    EMFILE,
    EFBIG,
    ENOSPC,
    EROFS,
    ENAMETOOLONG,
    ENOTEMPTY,
    ELOOP,
    EOVERFLOW,
    EOPNOTSUPP,
);

impl Errno {
    /// The reply status that carries this error: `APPLICATION + errno`, as the File interface
    /// defines it.
    pub fn status(self) -> u32 {
        status::APPLICATION + self.0.unsigned_abs()
    }

    /// The error a reply status carries, if it is an application status.
    pub fn from_status(reply_status: u32) -> Option<Errno> {
        let value = reply_status.checked_sub(status::APPLICATION)?;
        i32::try_from(value).ok().map(Errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_linux_errno_values() {
        assert_eq!(Errno::ENOENT.status(), status::APPLICATION + 2);
        assert_eq!(
            Errno::from_status(Errno::ELOOP.status()),
            Some(Errno::ELOOP)
        );
        assert_eq!(Errno::from_status(status::BAD_REQUEST), None);
    }
}
