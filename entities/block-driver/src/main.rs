//! The virtio block driver: serves the Block interface on its endpoint over the virtio-blk
//! device its `virtio-blk` capability is bound to.
//!
//! The virtqueue and the block protocol are the maintained `virtio-drivers` crate's
//! (`VirtIOBlk`); this entity supplies the two things that crate leaves to its host:
//!
//! - [`transport::KernelTransport`], a `virtio_drivers::transport::Transport` whose register
//!   accesses are `DEVICE_READ` and `DEVICE_WRITE` system calls, since Septa maps no device
//!   registers into a driver (transports share pages), for virtio-mmio versions 1 and 2;
//! - [`hal::SeptaHal`], a `virtio_drivers::Hal` whose queues are `DMA_MAP` memory and whose
//!   request buffers are bounced through a pool of it (an entity cannot learn the physical
//!   address of its heap).
//!
//! [`server::BlockDevice`] checks each request (ranges, whole blocks, the read-only flag) so that
//! nothing a client sends reaches an assertion of the crate, then makes one device request and
//! polls for its completion: the kernel delivers no interrupts to drivers yet. One request is in
//! flight at a time. docs/drivers.md has the design and its limits.
#![no_std]
#![no_main]

extern crate alloc;

mod hal;
mod server;
mod transport;

use septa_interfaces::block;
use septa_runtime::{ipc, println, startup};
use virtio_drivers::device::blk::VirtIOBlk;
use virtio_drivers::transport::{DeviceType, Transport};

use crate::hal::SeptaHal;
use crate::server::BlockDevice;
use crate::transport::KernelTransport;

septa_runtime::entry!(main);

/// VIRTIO_BLK_F_FLUSH: the device has a write cache that a flush request empties (5.2.3).
const FEATURE_FLUSH: u64 = 1 << 9;

fn main() -> i32 {
    let name = startup::name();
    let Some(device) = startup::handle("virtio-blk") else {
        println!("[{name}] no capability named 'virtio-blk'");
        return 2;
    };
    let mut transport = match KernelTransport::probe(device) {
        Ok(transport) if transport.device_type() == DeviceType::Block => transport,
        Ok(transport) => {
            println!(
                "[{name}] the device is a {:?}, not a block device",
                transport.device_type()
            );
            return 1;
        }
        Err(error) => {
            println!("[{name}] no virtio block device: {error}");
            return 1;
        }
    };
    if let Err(error) = hal::initialise(device) {
        println!("[{name}] cannot map DMA memory: {}", error.description());
        return 1;
    }
    let version = transport.version();
    let flush = transport.read_device_features() & FEATURE_FLUSH != 0;
    let disk = match VirtIOBlk::<SeptaHal, _>::new(transport) {
        Ok(disk) => disk,
        Err(error) => {
            println!("[{name}] the block device did not initialise: {error}");
            return 1;
        }
    };
    if transport::queue_refused() {
        println!("[{name}] the queue's layout does not suit a version 1 transport");
        return 1;
    }
    println!(
        "[{name}] virtio-blk: {} blocks of {} bytes, {}, {} transport, {}",
        disk.capacity(),
        server::BLOCK_SIZE,
        if disk.readonly() {
            "read-only"
        } else {
            "read-write"
        },
        match version {
            transport::Version::Legacy => "version 1 (legacy)",
            transport::Version::Modern => "version 2",
        },
        if flush {
            "flush supported"
        } else {
            "no flush (write-through)"
        },
    );
    let mut server = BlockDevice::new(disk);
    ipc::serve("endpoint", |request, reply| {
        block::dispatch(&mut server, request, reply)
    })
}
