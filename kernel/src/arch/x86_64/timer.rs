//! The local APIC timer (periodic tick) and the time-stamp counter (clock).
//!
//! QEMU's local APIC counts at 1 GHz before its divider (`hw/intc/apic_common.c` computes the
//! count from the virtual clock in nanoseconds), so the time-stamp counter is calibrated against
//! it once at boot. Under `-icount` both follow guest instructions, and so do the clock's
//! nanoseconds.

use super::paging::physical_to_virtual;

const APIC_BASE: u64 = 0xfee0_0000;
const REGISTER_END_OF_INTERRUPT: u64 = 0xb0;
const REGISTER_SPURIOUS: u64 = 0xf0;
const REGISTER_TIMER_VECTOR: u64 = 0x320;
const REGISTER_TIMER_INITIAL: u64 = 0x380;
const REGISTER_TIMER_CURRENT: u64 = 0x390;
const REGISTER_TIMER_DIVIDE: u64 = 0x3e0;
const PERIODIC: u32 = 1 << 17;
const MASKED: u32 = 1 << 16;
/// Timer interrupt period.
pub const TICK_NANOSECONDS: u64 = 10_000_000;

static mut TIMESTAMP_PER_MICROSECOND: u64 = 1000;
static mut TIMESTAMP_AT_BOOT: u64 = 0;

fn read(register: u64) -> u32 {
    // SAFETY: the local APIC's registers are in the direct map; 32-bit aligned accesses.
    unsafe { core::ptr::read_volatile(physical_to_virtual(APIC_BASE + register) as *const u32) }
}

fn write(register: u64, value: u32) {
    // SAFETY: as for `read`.
    unsafe {
        core::ptr::write_volatile(physical_to_virtual(APIC_BASE + register) as *mut u32, value)
    }
}

/// Enables the local APIC, calibrates the time-stamp counter and starts the periodic tick.
pub fn initialise() {
    super::serial::mask_legacy_interrupt_controllers();
    write(
        REGISTER_SPURIOUS,
        0x100 | super::cpu::SPURIOUS_VECTOR as u32,
    );
    // Calibrate: let the counter (divide by 1: one count per nanosecond) run 10 ms.
    write(REGISTER_TIMER_DIVIDE, 0xb);
    write(REGISTER_TIMER_VECTOR, MASKED);
    write(REGISTER_TIMER_INITIAL, u32::MAX);
    let start = super::cpu::timestamp();
    while u32::MAX - read(REGISTER_TIMER_CURRENT) < 10_000_000 {}
    let elapsed = super::cpu::timestamp() - start;
    // SAFETY: written once during single-threaded initialisation.
    unsafe {
        TIMESTAMP_PER_MICROSECOND = (elapsed / 10_000).max(1);
        TIMESTAMP_AT_BOOT = start;
    }
    // Periodic tick: divide by 16.
    write(REGISTER_TIMER_DIVIDE, 0x3);
    write(
        REGISTER_TIMER_VECTOR,
        PERIODIC | super::cpu::TIMER_VECTOR as u32,
    );
    write(REGISTER_TIMER_INITIAL, (TICK_NANOSECONDS / 16) as u32);
}

/// Acknowledges the interrupt being handled.
pub fn end_of_interrupt() {
    write(REGISTER_END_OF_INTERRUPT, 0);
}

/// Nanoseconds since boot.
pub fn now_nanoseconds() -> u64 {
    // SAFETY: read-only after initialisation.
    let (rate, boot) = unsafe { (TIMESTAMP_PER_MICROSECOND, TIMESTAMP_AT_BOOT) };
    let ticks = super::cpu::timestamp().wrapping_sub(boot);
    ((ticks as u128 * 1000) / rate as u128) as u64
}

/// Time-stamp counter ticks per second, as calibrated.
pub fn timestamp_rate() -> u64 {
    // SAFETY: read-only after initialisation.
    unsafe { TIMESTAMP_PER_MICROSECOND * 1_000_000 }
}
