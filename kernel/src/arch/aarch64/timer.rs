//! The generic timer's EL1 virtual timer (periodic tick, clock) behind a GICv2.
//!
//! The counter runs at `CNTFRQ_EL0` (62.5 MHz on QEMU's `virt`). The tick is re-armed by
//! adding one period to the compare value, so ticks do not drift with interrupt latency.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

use super::cpu::read_register;
use super::paging::physical_to_virtual;

/// Timer interrupt period.
pub const TICK_NANOSECONDS: u64 = 10_000_000;

const DISTRIBUTOR_CONTROL: u64 = 0x000;
const DISTRIBUTOR_SET_ENABLE: u64 = 0x100;
const DISTRIBUTOR_PRIORITY: u64 = 0x400;
const INTERFACE_CONTROL: u64 = 0x000;
const INTERFACE_PRIORITY_MASK: u64 = 0x004;
const INTERFACE_ACKNOWLEDGE: u64 = 0x00c;
const INTERFACE_END: u64 = 0x010;
const SPURIOUS: u32 = 1023;

static DISTRIBUTOR: AtomicU64 = AtomicU64::new(0);
static INTERFACE: AtomicU64 = AtomicU64::new(0);
static TIMER_INTERRUPT: AtomicU64 = AtomicU64::new(0);
static FREQUENCY: AtomicU64 = AtomicU64::new(1);
static PERIOD: AtomicU64 = AtomicU64::new(0);
static COUNTER_AT_BOOT: AtomicU64 = AtomicU64::new(0);

fn write(base: &AtomicU64, register: u64, value: u32) {
    // SAFETY: the GIC's register blocks, from the device tree, are device memory in the direct
    // map; aligned 32-bit accesses.
    unsafe {
        core::ptr::write_volatile((base.load(Ordering::Relaxed) + register) as *mut u32, value)
    }
}

fn read(base: &AtomicU64, register: u64) -> u32 {
    // SAFETY: as for `write`.
    unsafe { core::ptr::read_volatile((base.load(Ordering::Relaxed) + register) as *const u32) }
}

/// Records where the GICv2's distributor and processor interface are (physical addresses) and
/// which interrupt the virtual timer raises.
pub fn set_interrupt_controller(distributor: u64, interface: u64, timer_interrupt: u32) {
    DISTRIBUTOR.store(physical_to_virtual(distributor), Ordering::Relaxed);
    INTERFACE.store(physical_to_virtual(interface), Ordering::Relaxed);
    TIMER_INTERRUPT.store(timer_interrupt as u64, Ordering::Relaxed);
}

fn set_compare(value: u64) {
    // SAFETY: programming the EL1 virtual timer, which only the kernel uses.
    unsafe { asm!("msr cntv_cval_el0, {}", "isb", in(reg) value, options(nomem, nostack)) };
}

/// Enables the timer's interrupt at the GIC and starts the periodic tick.
pub fn initialise() {
    let interrupt = TIMER_INTERRUPT.load(Ordering::Relaxed);
    write(&DISTRIBUTOR, DISTRIBUTOR_CONTROL, 1);
    let priority_word = DISTRIBUTOR_PRIORITY + (interrupt & !3);
    let shift = (interrupt & 3) * 8;
    let priorities = read(&DISTRIBUTOR, priority_word) & !(0xff << shift);
    write(&DISTRIBUTOR, priority_word, priorities | (0x80 << shift));
    write(
        &DISTRIBUTOR,
        DISTRIBUTOR_SET_ENABLE + (interrupt / 32) * 4,
        1 << (interrupt % 32),
    );
    write(&INTERFACE, INTERFACE_PRIORITY_MASK, 0xff);
    write(&INTERFACE, INTERFACE_CONTROL, 1);

    let frequency = read_register!("cntfrq_el0").max(1);
    let period = frequency * TICK_NANOSECONDS / 1_000_000_000;
    FREQUENCY.store(frequency, Ordering::Relaxed);
    PERIOD.store(period, Ordering::Relaxed);
    let now = super::cpu::timestamp();
    COUNTER_AT_BOOT.store(now, Ordering::Relaxed);
    set_compare(now + period);
    // SAFETY: enabling the EL1 virtual timer with its interrupt unmasked.
    unsafe { asm!("msr cntv_ctl_el0, {}", "isb", in(reg) 1u64, options(nomem, nostack)) };
}

/// Acknowledges the pending interrupt; `true` when it was the timer's tick, which is re-armed.
pub fn acknowledge() -> bool {
    let acknowledged = read(&INTERFACE, INTERFACE_ACKNOWLEDGE);
    let interrupt = acknowledged & 0x3ff;
    if interrupt == SPURIOUS {
        return false;
    }
    let is_tick = interrupt as u64 == TIMER_INTERRUPT.load(Ordering::Relaxed);
    if is_tick {
        let period = PERIOD.load(Ordering::Relaxed);
        let next = read_register!("cntv_cval_el0") + period;
        set_compare(next.max(super::cpu::timestamp() + period / 2));
    }
    write(&INTERFACE, INTERFACE_END, acknowledged);
    is_tick
}

/// Nanoseconds since boot.
pub fn now_nanoseconds() -> u64 {
    let ticks = super::cpu::timestamp().wrapping_sub(COUNTER_AT_BOOT.load(Ordering::Relaxed));
    (ticks as u128 * 1_000_000_000 / FREQUENCY.load(Ordering::Relaxed) as u128) as u64
}

/// Counter ticks per second.
pub fn timestamp_rate() -> u64 {
    FREQUENCY.load(Ordering::Relaxed)
}
