//! The layouts libposix reads and writes that are the same on every architecture, checked
//! against the Linux musl ABI (musl's arch/*/bits/*.h and the kernel's uapi for the
//! kernel-facing structures). `struct stat` differs, and is checked in `arch/`.

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<libc::timespec>() == 16);
    assert!(size_of::<libc::timeval>() == 16);
    assert!(size_of::<libc::utsname>() == 6 * 65);
    assert!(size_of::<libc::pollfd>() == 8);
    assert!(size_of::<libc::rlimit>() == 16);
    assert!(size_of::<libc::iovec>() == 16);
    assert!(size_of::<libc::winsize>() == 8);
    assert!(size_of::<libc::stack_t>() == 24);
    assert!(size_of::<libc::siginfo_t>() == 128);
    assert!(size_of::<libc::tms>() == 32);
    assert!(size_of::<crate::time::KernelResourceUsage>() == 144);
    assert!(size_of::<libc::fd_set>() == 128);
    assert!(size_of::<libc::statx>() == 256);
    assert!(size_of::<crate::signals::KernelSigaction>() == 32);
    assert!(offset_of!(crate::signals::KernelSigaction, flags) == 8);
    assert!(offset_of!(crate::signals::KernelSigaction, restorer) == 16);
    assert!(offset_of!(crate::signals::KernelSigaction, mask) == 24);
    assert!(size_of::<crate::files::KernelTermios>() == 36);
    assert!(size_of::<crate::signals::SignalInformation>() == 128);
};
