//! The program's memory as libposix reads and writes it: the one place that dereferences the
//! pointers a system call carries.
//!
//! libposix runs in the program's own address space, like the C library above it, so it can
//! check a pointer for null but not for being mapped: a null pointer is `EFAULT`, as on Linux,
//! while a wild pointer faults and stops the entity where Linux would return `EFAULT` (the
//! kernel itself still checks every pointer passed on to it). Accesses are unaligned-safe.

use crate::errno::{Errno, Result};
use crate::path::PATH_MAX;

/// Reads a `T` the program points at.
pub fn read<T: Copy>(pointer: *const T) -> Result<T> {
    if pointer.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: a non-null pointer the program passed for this call's argument; see the module
    // documentation for what libposix can and cannot check.
    Ok(unsafe { pointer.read_unaligned() })
}

/// Writes a `T` where the program points.
pub fn write<T>(pointer: *mut T, value: T) -> Result<()> {
    if pointer.is_null() {
        return Err(Errno::EFAULT);
    }
    // SAFETY: as in `read`; the program passed this pointer for the call to write through.
    unsafe { pointer.write_unaligned(value) };
    Ok(())
}

/// Writes a `T` when the pointer is not null (for optional out-parameters).
pub fn write_optional<T>(pointer: *mut T, value: T) -> Result<()> {
    if pointer.is_null() {
        Ok(())
    } else {
        write(pointer, value)
    }
}

/// Reads the `u32` at `address` atomically (a futex word, which other threads change).
pub fn load_u32(address: usize) -> Result<u32> {
    if address == 0 {
        return Err(Errno::EFAULT);
    }
    if !address.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: as in `read`, for an aligned word the program passed; atomic because other
    // threads may store to it concurrently.
    let word = unsafe { core::sync::atomic::AtomicU32::from_ptr(address as *mut u32) };
    Ok(word.load(core::sync::atomic::Ordering::SeqCst))
}

/// Writes the `i32` at `address` atomically (a thread id the parent and child both store).
pub fn store_i32(address: usize, value: i32) -> Result<()> {
    if address == 0 {
        return Err(Errno::EFAULT);
    }
    if !address.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    // SAFETY: as in `load_u32`.
    let word = unsafe { core::sync::atomic::AtomicI32::from_ptr(address as *mut i32) };
    word.store(value, core::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// The program's bytes at `(address, length)`.
pub fn bytes<'a>(address: usize, length: usize) -> Result<&'a [u8]> {
    if length == 0 {
        return Ok(&[]);
    }
    if address == 0 || address.checked_add(length).is_none() || length > isize::MAX as usize {
        return Err(Errno::EFAULT);
    }
    // SAFETY: as in `read`: a buffer the program passed, read while the call runs.
    Ok(unsafe { core::slice::from_raw_parts(address as *const u8, length) })
}

/// The program's buffer at `(address, length)`, to fill.
pub fn bytes_mut<'a>(address: usize, length: usize) -> Result<&'a mut [u8]> {
    if length == 0 {
        return Ok(&mut []);
    }
    if address == 0 || address.checked_add(length).is_none() || length > isize::MAX as usize {
        return Err(Errno::EFAULT);
    }
    // SAFETY: as in `read`: a buffer the program passed for this call to fill.
    Ok(unsafe { core::slice::from_raw_parts_mut(address as *mut u8, length) })
}

/// A NUL-terminated string of at most `PATH_MAX - 1` bytes, without its NUL: `EFAULT` for
/// null, `ENAMETOOLONG` when no NUL comes within `PATH_MAX` bytes.
pub fn path<'a>(address: usize) -> Result<&'a [u8]> {
    if address == 0 {
        return Err(Errno::EFAULT);
    }
    let mut length = 0;
    while length < PATH_MAX {
        // SAFETY: as in `read`: the bytes of a string the program passed, read up to its NUL.
        if unsafe { *((address + length) as *const u8) } == 0 {
            return bytes(address, length);
        }
        length += 1;
    }
    Err(Errno::ENAMETOOLONG)
}

/// A NUL-terminated string of any length (for names in the Septa C API), without its NUL.
pub fn string<'a>(address: usize) -> Result<&'a [u8]> {
    if address == 0 {
        return Err(Errno::EFAULT);
    }
    // SAFETY: as in `read`: a NUL-terminated string the program passed.
    let string = unsafe { core::ffi::CStr::from_ptr(address as *const core::ffi::c_char) };
    Ok(string.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_pointers_are_faults() {
        assert_eq!(read(core::ptr::null::<u32>()), Err(Errno::EFAULT));
        assert_eq!(write(core::ptr::null_mut::<u32>(), 1), Err(Errno::EFAULT));
        assert_eq!(write_optional(core::ptr::null_mut::<u32>(), 1), Ok(()));
        assert_eq!(path(0), Err(Errno::EFAULT));
        assert_eq!(bytes(0, 1), Err(Errno::EFAULT));
        assert_eq!(bytes(0, 0), Ok(&[][..]));
    }

    #[test]
    fn paths_stop_at_their_nul_and_have_a_limit() {
        let text = b"/data/file\0junk";
        assert_eq!(path(text.as_ptr() as usize), Ok(&b"/data/file"[..]));
        let long = std::vec![b'a'; PATH_MAX + 1];
        assert_eq!(path(long.as_ptr() as usize), Err(Errno::ENAMETOOLONG));
        let mut fits = std::vec![b'a'; PATH_MAX];
        fits[PATH_MAX - 1] = 0;
        assert_eq!(
            path(fits.as_ptr() as usize).map(<[u8]>::len),
            Ok(PATH_MAX - 1)
        );
    }
}
