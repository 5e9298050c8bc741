//! DMA memory for `virtio-drivers`: queues from `DMA_MAP`, request buffers bounced through a pool.
//!
//! `virtio_drivers::Hal` asks for two things. Queues need physically contiguous memory whose
//! physical address the device is told: `dma_alloc` maps fresh frames with `DMA_MAP` at an
//! address this driver picks from a region of its own, and `dma_dealloc` returns them with
//! `MEMORY_UNMAP`. Request buffers (a request header, the data, the status byte) live on the
//! heap or the stack, whose physical addresses an entity cannot learn: `share` copies each into
//! a pool of DMA memory mapped once at start and gives the device the pool's address, and
//! `unshare` copies what the device wrote back. One request is in flight at a time, so the pool
//! is a bump allocator that empties when the last buffer of a request is unshared.
//!
//! The trait's functions take no `self`, so the state is in statics. The driver has one
//! thread; the atomics only make the statics safe to declare.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use septa_abi::device::DMA_MAP_MAX;
use septa_abi::syscall;
use septa_runtime::{println, startup, system};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE, PhysAddr};

/// Where the driver maps DMA memory: a region of its address space nothing else uses (the
/// runtime maps the heap from `MAP_BASE`, 0x1000_0000_0000, up).
const DMA_REGION_START: usize = 0x0000_4000_0000_0000;
/// The region's size. Addresses are never reused, so it bounds the bytes ever mapped.
const DMA_REGION_SIZE: usize = 1 << 40;
/// Bytes of the bounce pool: the largest request (a 15 KiB message of data, its 16-byte header,
/// its status byte and an indirect descriptor table) fits with room to spare.
pub const POOL_SIZE: usize = 64 * 1024;
/// Alignment of each buffer in the pool: more than any virtio structure needs (an indirect
/// descriptor table wants 16 bytes, 2.7.5.3.1).
const POOL_ALIGNMENT: usize = 64;

/// The device capability `DMA_MAP` needs; 0 until [`initialise`].
static DEVICE: AtomicU32 = AtomicU32::new(0);
/// The next unused address of the DMA region.
static NEXT_ADDRESS: AtomicUsize = AtomicUsize::new(DMA_REGION_START);
/// The pool's virtual and physical addresses; 0 until [`initialise`].
static POOL_VIRTUAL: AtomicUsize = AtomicUsize::new(0);
static POOL_PHYSICAL: AtomicU64 = AtomicU64::new(0);
/// Bytes of the pool in use, and buffers shared and not yet unshared.
static POOL_USED: AtomicUsize = AtomicUsize::new(0);
static POOL_SHARED: AtomicUsize = AtomicUsize::new(0);

/// `virtio_drivers::Hal` over Septa's `DMA_MAP`.
pub struct SeptaHal;

/// Records the device capability and maps the bounce pool. Call once, before any device use.
pub fn initialise(device: u32) -> Result<(), septa_abi::Error> {
    DEVICE.store(device, Ordering::Relaxed);
    let (physical, virtual_address) = map(POOL_SIZE)?;
    POOL_PHYSICAL.store(physical, Ordering::Relaxed);
    POOL_VIRTUAL.store(virtual_address, Ordering::Relaxed);
    Ok(())
}

/// Maps `length` bytes (a multiple of the page size) of fresh, zeroed, physically contiguous
/// memory at the next free address of the DMA region: (physical, virtual).
fn map(length: usize) -> Result<(PhysAddr, usize), septa_abi::Error> {
    if length == 0 || length as u64 > DMA_MAP_MAX || !length.is_multiple_of(PAGE_SIZE) {
        return Err(septa_abi::Error::InvalidArgument);
    }
    let address = NEXT_ADDRESS.fetch_add(length, Ordering::Relaxed);
    if address + length > DMA_REGION_START + DMA_REGION_SIZE {
        return Err(septa_abi::Error::OutOfMemory);
    }
    let device = DEVICE.load(Ordering::Relaxed);
    let physical = system::call(
        syscall::DMA_MAP,
        [u64::from(device), address as u64, length as u64, 0, 0],
    )?;
    Ok((physical as PhysAddr, address))
}

/// Stops the driver: the pool cannot hold a buffer. Requests are checked against
/// [`POOL_SIZE`] before they reach the device, so this means a bug, not a bad request; stopping
/// makes the driver's clients see `ServerGone` instead of a device reading the wrong memory.
fn pool_exhausted(length: usize) -> ! {
    println!(
        "[{}] bounce pool of {POOL_SIZE} bytes cannot hold {length} more bytes; stopping",
        startup::name()
    );
    system::exit(3)
}

// SAFETY: `dma_alloc` returns page-aligned memory that `DMA_MAP` just mapped and zeroed for
// this entity alone, at an address of the DMA region never handed out before, so it aliases
// nothing; `share` returns physical addresses inside the pool, which is DMA memory, and
// `unshare` copies back only from the range `share` handed out.
unsafe impl Hal for SeptaHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match pages.checked_mul(PAGE_SIZE).map(map) {
            Some(Ok((physical, address))) => match NonNull::new(address as *mut u8) {
                Some(pointer) => (physical, pointer),
                None => (0, NonNull::dangling()),
            },
            // A physical address of 0 is how `virtio_drivers::Dma::new` learns of a failure.
            _ => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_physical: PhysAddr, address: NonNull<u8>, pages: usize) -> i32 {
        match system::unmap_memory(address.as_ptr() as usize, pages * PAGE_SIZE) {
            Ok(()) => 0,
            Err(_) => -1,
        }
    }

    unsafe fn mmio_phys_to_virt(_physical: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport maps registers from BARs; this driver's transport makes
        // system calls instead and never calls this.
        println!(
            "[{}] mmio_phys_to_virt called: this driver has no PCI transport; stopping",
            startup::name()
        );
        system::exit(3)
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let length = buffer.len();
        let start = POOL_USED
            .load(Ordering::Relaxed)
            .next_multiple_of(POOL_ALIGNMENT);
        let end = start.saturating_add(length);
        if end > POOL_SIZE {
            pool_exhausted(length);
        }
        POOL_USED.store(end, Ordering::Relaxed);
        POOL_SHARED.fetch_add(1, Ordering::Relaxed);
        let pool = POOL_VIRTUAL.load(Ordering::Relaxed) as *mut u8;
        // Every direction is copied in, so that what the device does not overwrite holds the
        // caller's bytes rather than an earlier request's.
        // SAFETY: the caller promises `buffer` is valid for `length` bytes and not accessed
        // elsewhere during this call; `start..end` lies inside the pool, mapped writable for
        // this entity's life by `initialise`, and no other shared buffer overlaps it.
        unsafe {
            core::ptr::copy_nonoverlapping(buffer.as_ptr().cast::<u8>(), pool.add(start), length);
        }
        POOL_PHYSICAL.load(Ordering::Relaxed) + start as PhysAddr
    }

    unsafe fn unshare(physical: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let start = physical.wrapping_sub(POOL_PHYSICAL.load(Ordering::Relaxed)) as usize;
        let length = buffer.len();
        let inside = start
            .checked_add(length)
            .is_some_and(|end| end <= POOL_SIZE);
        if inside && direction != BufferDirection::DriverToDevice {
            let pool = POOL_VIRTUAL.load(Ordering::Relaxed) as *const u8;
            // SAFETY: `physical` came from `share` for a buffer of this length, so
            // `start..start + length` lies inside the pool (checked again above); the caller
            // promises `buffer` is valid for writes and not accessed elsewhere during this call.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    pool.add(start),
                    buffer.as_ptr().cast::<u8>(),
                    length,
                );
            }
        }
        let shared = POOL_SHARED.load(Ordering::Relaxed).saturating_sub(1);
        POOL_SHARED.store(shared, Ordering::Relaxed);
        if shared == 0 {
            POOL_USED.store(0, Ordering::Relaxed);
        }
    }
}
