//! Error numbers: the Linux errno values libposix returns, and the one mapping from kernel errors.

use septa_abi::Error;

/// A Linux errno value (positive), as the target's musl ABI numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

/// What every backend returns; [`encode`] turns it into the raw system-call word.
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
    ESRCH,
    EINTR,
    EIO,
    E2BIG,
    EBADF,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    EEXIST,
    ENODEV,
    ENOTDIR,
    EINVAL,
    EMFILE,
    ENOTTY,
    ESPIPE,
    ERANGE,
    ENAMETOOLONG,
    ENOSYS,
    EMSGSIZE,
    ENOTSOCK,
    EAFNOSUPPORT,
    ETIMEDOUT,
    EOVERFLOW,
    EISDIR,
    ENOTEMPTY,
    EXDEV,
    EILSEQ,
    EOPNOTSUPP,
);

impl From<Error> for Errno {
    /// The one translation of kernel errors into errno values.
    fn from(error: Error) -> Errno {
        match error {
            Error::NoSuchCall => Errno::ENOSYS,
            Error::BadHandle => Errno::EBADF,
            Error::NoRight => Errno::EPERM,
            Error::BadAddress => Errno::EFAULT,
            Error::Malformed => Errno::EINVAL,
            Error::Denied => Errno::EACCES,
            Error::TimedOut => Errno::ETIMEDOUT,
            Error::PeerGone => Errno::EIO,
            Error::OutOfMemory => Errno::ENOMEM,
            Error::InvalidArgument => Errno::EINVAL,
            Error::TooLarge => Errno::EMSGSIZE,
            Error::NoPendingReply => Errno::EINVAL,
            Error::WouldBlock => Errno::EAGAIN,
        }
    }
}

/// The raw system-call word for a result: the value, or `-errno`.
pub fn encode(result: Result<usize>) -> isize {
    match result {
        Ok(value) => value as isize,
        Err(Errno(number)) => -(number as isize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_errors_map_to_linux_errno_values() {
        let expected = [
            (Error::NoSuchCall, libc::ENOSYS),
            (Error::BadHandle, libc::EBADF),
            (Error::NoRight, libc::EPERM),
            (Error::BadAddress, libc::EFAULT),
            (Error::Malformed, libc::EINVAL),
            (Error::Denied, libc::EACCES),
            (Error::TimedOut, libc::ETIMEDOUT),
            (Error::PeerGone, libc::EIO),
            (Error::OutOfMemory, libc::ENOMEM),
            (Error::InvalidArgument, libc::EINVAL),
            (Error::TooLarge, libc::EMSGSIZE),
            (Error::NoPendingReply, libc::EINVAL),
            (Error::WouldBlock, libc::EAGAIN),
        ];
        assert_eq!(expected.len(), Error::ALL.len());
        for (error, errno) in expected {
            assert_eq!(Errno::from(error), Errno(errno), "{error:?}");
        }
    }

    #[test]
    fn results_encode_as_raw_words() {
        assert_eq!(encode(Ok(42)), 42);
        assert_eq!(encode(Err(Errno::ENOENT)), -2);
        assert_eq!(encode(Err(Errno::ENOSYS)), -38);
        assert_eq!(encode(Ok(usize::MAX - 4095)), -4096);
    }
}
