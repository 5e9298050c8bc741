//! The kernel's state: entities, threads, kernel objects and the scheduler.

use crate::arch::{self, Context};
use crate::console;
use crate::memory::Frames;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use septa_abi::Error;
use septa_boot_image::{BootImage, ObjectImage};
use septa_kernel_core::capability::{Capability, CapabilityTable};
use septa_kernel_core::device::Devices;
use septa_kernel_core::scheduler::ReadyQueues;
use septa_monitor::Policy;

/// Most live threads one entity may have.
pub const THREADS_PER_ENTITY_MAX: u32 = 64;

/// Index of a thread in [`Kernel::threads`].
pub type ThreadId = u32;
/// Index of an entity (its identity, as in the system description).
pub type EntityId = u32;

/// What a capability refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// An IPC endpoint.
    Endpoint(u32),
    /// A notification.
    Notification(u32),
    /// A shared-memory region.
    SharedMemory(u32),
    /// A virtio-mmio device: the index of its transport in [`Kernel::devices`], or `None` when
    /// no transport was free at boot (every use is then `BadHandle`).
    Device(Option<u32>),
}

/// An isolated program: an address space, a capability table and threads.
pub struct Entity {
    pub name: String,
    pub root: u64,
    pub capabilities: CapabilityTable<Object>,
    /// Frames this entity owns (freed when it ends); shared regions are not listed.
    pub owned_frames: BTreeSet<u64>,
    pub memory_used: u64,
    pub memory_limit: u64,
    pub priority: u8,
    pub alive: bool,
    pub thread_count: u32,
    /// Where the next anonymous mapping with no address hint goes.
    pub map_cursor: u64,
    /// Owned pages made inaccessible by `MEMORY_PROTECT` with protection 0: page -> frame. The
    /// frames stay in `owned_frames`; they are mapped again when made accessible.
    pub parked: BTreeMap<u64, u64>,
}

/// Where a blocked thread waits and what it waits with.
#[derive(Debug)]
pub enum State {
    /// Runnable (queued, or the current thread).
    Ready,
    /// Calling: queued on an endpoint with its checked request snapshot.
    Sending {
        endpoint: u32,
        message: Vec<u8>,
        reply_buffer: u64,
        reply_size: u64,
    },
    /// Called: the request was delivered to `server`; waiting for its reply.
    AwaitingReply {
        server: ThreadId,
        reply_buffer: u64,
        reply_size: u64,
        interface: u32,
        method: u32,
    },
    /// Waiting for a request on an endpoint.
    Receiving {
        endpoint: u32,
        buffer: u64,
        size: u64,
    },
    /// Waiting on a notification.
    Waiting { notification: u32 },
    /// Waiting on a futex: the `u32` at `address` in the thread's entity.
    Futex { address: u64 },
    /// Sleeping until its deadline.
    Sleeping,
    /// Ended.
    Dead,
}

/// A thread: saved user registers, a state, and an optional deadline.
pub struct Thread {
    pub entity: EntityId,
    pub context: Context,
    pub priority: u8,
    pub state: State,
    /// Nanoseconds since boot at which a blocked thread times out.
    pub deadline: Option<u64>,
    /// The caller this thread (a server) owes a reply to.
    pub reply_to: Option<ThreadId>,
    /// Floating-point registers and thread pointer, switched with the thread.
    pub extended: crate::extended::Extended,
    /// Where a zero is written, and one futex waiter woken, when the thread ends (0: nowhere).
    pub clear_address: u64,
}

/// An IPC endpoint, served by one entity.
pub struct Endpoint {
    pub owner: EntityId,
    pub alive: bool,
    pub senders: VecDeque<ThreadId>,
    pub receivers: VecDeque<ThreadId>,
    /// Whether the owner asked to be told of clients that end (`ENDPOINT_WATCH`).
    pub watched: bool,
    /// Clients that ended and the owner has not been told of yet.
    pub ended_clients: VecDeque<EntityId>,
}

/// A notification: a word of pending bits and its waiters.
#[derive(Default)]
pub struct Notification {
    pub bits: u64,
    pub waiters: VecDeque<ThreadId>,
}

/// A shared-memory region.
pub struct SharedMemory {
    pub frames: Vec<u64>,
}

/// Everything the kernel knows.
pub struct Kernel {
    pub frames: Frames,
    pub entities: Vec<Entity>,
    pub threads: Vec<Thread>,
    pub endpoints: Vec<Endpoint>,
    pub notifications: Vec<Notification>,
    pub shared_memory: Vec<SharedMemory>,
    pub ready: ReadyQueues<ThreadId>,
    pub current: Option<ThreadId>,
    /// The root currently loaded in the processor.
    pub active_root: u64,
    /// The security policy, decoded from the boot image. Private, and reachable only through
    /// [`Kernel::policy`] (a shared reference), so no code path can change it after boot.
    policy: Policy,
    pub audit_only: bool,
    pub exit_with: Option<EntityId>,
    /// Snapshot buffer for the message being checked and delivered.
    pub staging: Vec<u8>,
    /// Threads waiting on futexes, oldest first.
    pub futex_waiters: VecDeque<ThreadId>,
    /// The thread whose extended state the processor holds.
    pub extended_live: Option<ThreadId>,
    /// The virtio-mmio transports found at boot, and which are bound to a capability.
    pub devices: Devices,
}

impl Kernel {
    /// Builds the system from the boot image.
    pub fn new(
        image: BootImage<'static>,
        frames: Frames,
        devices: Devices,
    ) -> Result<Kernel, String> {
        let mut kernel = Kernel {
            frames,
            entities: Vec::new(),
            threads: Vec::new(),
            endpoints: Vec::new(),
            notifications: (0..image.notification_count)
                .map(|_| Notification::default())
                .collect(),
            shared_memory: Vec::new(),
            ready: ReadyQueues::new(),
            current: None,
            active_root: arch::paging::kernel_root(),
            policy: image.policy,
            audit_only: image.audit_only,
            exit_with: image.exit_with,
            staging: alloc::vec![0; septa_abi::MESSAGE_MAX_SIZE],
            futex_waiters: VecDeque::new(),
            extended_live: None,
            devices,
        };
        for size in &image.shared_memory_sizes {
            if size % 4096 != 0 || *size == 0 || *size > 64 << 20 {
                return Err(alloc::format!(
                    "shared-memory size {size} is not a page multiple up to 64 MiB"
                ));
            }
            let mut region = SharedMemory { frames: Vec::new() };
            for _ in 0..size / 4096 {
                region.frames.push(
                    kernel
                        .frames
                        .allocate()
                        .ok_or("out of memory for shared memory")?,
                );
            }
            kernel.shared_memory.push(region);
        }
        // An endpoint's owner is the entity holding its RECEIVE capability (found below).
        for _ in 0..image.endpoint_count {
            kernel.endpoints.push(Endpoint {
                owner: u32::MAX,
                alive: true,
                senders: VecDeque::new(),
                receivers: VecDeque::new(),
                watched: false,
                ended_clients: VecDeque::new(),
            });
        }
        for (identity, entity) in image.entities.iter().enumerate() {
            let identity = identity as EntityId;
            let mut capabilities = CapabilityTable::new();
            for capability in &entity.capabilities {
                let object = match capability.object {
                    ObjectImage::Endpoint(index) if index < image.endpoint_count => {
                        if capability.rights & septa_abi::rights::RECEIVE != 0 {
                            kernel.endpoints[index as usize].owner = identity;
                        }
                        Object::Endpoint(index)
                    }
                    ObjectImage::Notification(index) if index < image.notification_count => {
                        Object::Notification(index)
                    }
                    ObjectImage::SharedMemory(index)
                        if (index as usize) < image.shared_memory_sizes.len() =>
                    {
                        Object::SharedMemory(index)
                    }
                    ObjectImage::VirtioDevice(device_id) => {
                        let transport = kernel.devices.bind(device_id);
                        let kind = crate::device::kind(device_id);
                        match transport.and_then(|index| kernel.devices.get(index)) {
                            Some(bound) => console::line(format_args!(
                                "[kernel] entity '{}' drives the {kind} at {:#x}",
                                entity.name, bound.base
                            )),
                            None => console::line(format_args!(
                                "[kernel] entity '{}': no free {kind} (device id {device_id}) \
                                 for capability '{}'; every use of it fails with BadHandle",
                                entity.name, capability.name
                            )),
                        }
                        Object::Device(transport)
                    }
                    other => {
                        return Err(alloc::format!(
                            "entity '{}' capability '{}' names {other:?}, which does not exist",
                            entity.name,
                            capability.name
                        ));
                    }
                };
                capabilities.insert(Capability {
                    object,
                    rights: capability.rights & septa_abi::rights::ALL,
                });
            }
            let loaded = crate::loader::load(&mut kernel, identity, entity, capabilities)?;
            kernel
                .spawn_thread(identity, loaded, entity.priority.min(31))
                .map_err(|_| alloc::format!("entity '{}': no thread slot", entity.name))?;
        }
        Ok(kernel)
    }

    /// The security policy (read-only).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Creates a ready thread in `entity` with the given initial context, reusing the slot of
    /// an ended thread when there is one (an ended thread is on no queue and owed no reply, so
    /// nothing refers to its slot). Refused beyond [`THREADS_PER_ENTITY_MAX`] live threads, so
    /// no entity can grow the kernel's heap without bound.
    pub fn spawn_thread(
        &mut self,
        entity: EntityId,
        context: Context,
        priority: u8,
    ) -> Result<ThreadId, Error> {
        if self.entities[entity as usize].thread_count >= THREADS_PER_ENTITY_MAX {
            return Err(Error::OutOfMemory);
        }
        let thread = Thread {
            entity,
            context,
            priority,
            state: State::Ready,
            deadline: None,
            reply_to: None,
            extended: crate::extended::Extended::default(),
            clear_address: 0,
        };
        let identity = match self
            .threads
            .iter()
            .position(|slot| matches!(slot.state, State::Dead))
        {
            Some(slot) => {
                self.threads[slot] = thread;
                slot as ThreadId
            }
            None => {
                self.threads.push(thread);
                (self.threads.len() - 1) as ThreadId
            }
        };
        self.entities[entity as usize].thread_count += 1;
        self.ready.push(identity, priority);
        Ok(identity)
    }

    /// Makes the processor hold `thread`'s extended state, saving the previous holder's.
    pub fn switch_extended(&mut self, thread: ThreadId) {
        if self.extended_live == Some(thread) {
            return;
        }
        if let Some(previous) = self.extended_live {
            crate::extended::save(&mut self.threads[previous as usize].extended);
        }
        crate::extended::load(&self.threads[thread as usize].extended);
        self.extended_live = Some(thread);
    }

    /// The current thread (there is one whenever a system call runs).
    pub fn current(&self) -> ThreadId {
        self.current.unwrap_or(0)
    }

    /// The current entity's capability `handle`, which must hold every right in `needed`.
    pub fn capability(&self, handle: u64, needed: u32) -> Result<Capability<Object>, Error> {
        let handle = u32::try_from(handle).map_err(|_| Error::BadHandle)?;
        self.entities[self.current_entity() as usize]
            .capabilities
            .lookup(handle, needed)
    }

    /// The current thread's entity.
    pub fn current_entity(&self) -> EntityId {
        self.threads[self.current() as usize].entity
    }

    /// Makes a blocked thread runnable with the given result words, and queues it.
    pub fn wake(&mut self, thread: ThreadId, result: Result<usize, Error>, second: u64) {
        self.resume_directly(thread, result, second);
        self.enqueue(thread);
    }

    /// Makes a blocked thread runnable with the given result words *without* queueing it: the
    /// caller must make it current at once ([`Kernel::switch_to`]) or queue it.
    pub fn resume_directly(&mut self, thread: ThreadId, result: Result<usize, Error>, second: u64) {
        let record = &mut self.threads[thread as usize];
        record.state = State::Ready;
        record.deadline = None;
        record
            .context
            .set_return(septa_abi::encode_result(result) as u64, second);
    }

    /// Queues a runnable thread that is not queued.
    pub fn enqueue(&mut self, thread: ThreadId) {
        let priority = self.threads[thread as usize].priority;
        self.ready.push(thread, priority);
    }

    /// Blocks the current thread (its state already set) and clears `current`.
    pub fn block_current(&mut self, deadline_nanoseconds: u64) {
        let thread = self.current();
        self.threads[thread as usize].deadline = deadline(deadline_nanoseconds);
        self.current = None;
    }

    /// Sets the current thread's return words.
    pub fn set_current_return(&mut self, result: Result<usize, Error>, second: u64) {
        let thread = self.current();
        self.threads[thread as usize]
            .context
            .set_return(septa_abi::encode_result(result) as u64, second);
    }

    /// Switches directly to `thread`, which is runnable and on no queue; the current thread
    /// must already have been queued or blocked.
    pub fn switch_to(&mut self, thread: ThreadId) {
        self.current = Some(thread);
    }

    /// Picks the thread to run next, if any, and loads its address space.
    pub fn schedule(&mut self, preempt: bool) -> Option<ThreadId> {
        if let Some(current) = self.current {
            let runnable = matches!(self.threads[current as usize].state, State::Ready);
            if !runnable {
                self.current = None;
            } else if preempt
                || self
                    .ready
                    .highest()
                    .is_some_and(|top| top > self.threads[current as usize].priority)
            {
                let priority = self.threads[current as usize].priority;
                if self.ready.highest().is_some_and(|top| top >= priority) {
                    self.ready.push(current, priority);
                    self.current = None;
                }
            }
        }
        if self.current.is_none() {
            self.current = self.ready.pop();
        }
        let thread = self.current?;
        let root = self.entities[self.threads[thread as usize].entity as usize].root;
        if root != self.active_root {
            arch::paging::activate(root);
            self.active_root = root;
        }
        Some(thread)
    }

    /// Handles the passing of time: threads whose deadline passed wake with `TimedOut`.
    pub fn expire_deadlines(&mut self) {
        let now = arch::timer::now_nanoseconds();
        for thread in 0..self.threads.len() as ThreadId {
            let record = &self.threads[thread as usize];
            if record.deadline.is_some_and(|deadline| deadline <= now) {
                let sleeping = matches!(record.state, State::Sleeping);
                self.detach(thread);
                let result = if sleeping {
                    Ok(0)
                } else {
                    Err(Error::TimedOut)
                };
                self.wake(thread, result, 0);
            }
        }
    }

    /// Removes a blocked thread from whatever it is queued on; its state becomes `Dead` until
    /// the caller decides what it becomes.
    pub fn detach(&mut self, thread: ThreadId) {
        let state = core::mem::replace(&mut self.threads[thread as usize].state, State::Dead);
        match state {
            State::Sending { endpoint, .. } => self.endpoints[endpoint as usize]
                .senders
                .retain(|queued| *queued != thread),
            State::Receiving { endpoint, .. } => self.endpoints[endpoint as usize]
                .receivers
                .retain(|queued| *queued != thread),
            State::Waiting { notification } => self.notifications[notification as usize]
                .waiters
                .retain(|queued| *queued != thread),
            State::Futex { .. } => self.futex_waiters.retain(|queued| *queued != thread),
            State::AwaitingReply { server, .. } => {
                if self.threads[server as usize].reply_to == Some(thread) {
                    self.threads[server as usize].reply_to = None;
                }
            }
            State::Ready => {
                let priority = self.threads[thread as usize].priority;
                self.ready.remove(thread, priority);
            }
            State::Sleeping | State::Dead => {}
        }
        self.threads[thread as usize].deadline = None;
    }

    /// Unmaps `[address, address + length)` in `entity`, freeing the frames it owns there.
    pub fn unmap(&mut self, entity: EntityId, address: u64, length: u64) -> Result<(), Error> {
        let end = address.checked_add(length).ok_or(Error::InvalidArgument)?;
        if address & 0xfff != 0 || length & 0xfff != 0 || end > septa_abi::startup::USER_END as u64
        {
            return Err(Error::InvalidArgument);
        }
        let record = &mut self.entities[entity as usize];
        let mut next = address;
        while let Some(page) = arch::paging::next_mapped(record.root, next, end) {
            if let Some(frame) = arch::paging::unmap(record.root, page)
                && record.owned_frames.remove(&frame)
            {
                self.frames.free(frame);
                record.memory_used -= 4096;
            }
            next = page + 4096;
        }
        let parked: Vec<u64> = record
            .parked
            .range(address..end)
            .map(|(page, _)| *page)
            .collect();
        for page in parked {
            if let Some(frame) = record.parked.remove(&page)
                && record.owned_frames.remove(&frame)
            {
                self.frames.free(frame);
                record.memory_used -= 4096;
            }
        }
        Ok(())
    }

    /// Changes the access of `entity`'s owned pages in `[address, address + length)`
    /// (page-aligned). `None` makes them inaccessible, keeping their frames. Every page must be
    /// owned (mapped or made inaccessible before), or nothing changes.
    pub fn protect(
        &mut self,
        entity: EntityId,
        address: u64,
        length: u64,
        access: Option<arch::paging::Access>,
    ) -> Result<(), Error> {
        let end = address.checked_add(length).ok_or(Error::InvalidArgument)?;
        if address & 0xfff != 0
            || length & 0xfff != 0
            || length == 0
            || address < septa_abi::startup::USER_LOWEST as u64
            || end > septa_abi::startup::USER_END as u64
        {
            return Err(Error::InvalidArgument);
        }
        let record = &self.entities[entity as usize];
        for page in (address..end).step_by(4096) {
            let owned = match arch::paging::translate(record.root, page) {
                Some(translation) => record
                    .owned_frames
                    .contains(&(translation.physical & !0xfff)),
                None => record.parked.contains_key(&page),
            };
            if !owned {
                return Err(Error::BadAddress);
            }
        }
        for page in (address..end).step_by(4096) {
            let record = &mut self.entities[entity as usize];
            let root = record.root;
            let frame = match arch::paging::unmap(root, page) {
                Some(frame) => frame,
                None => record.parked.remove(&page).ok_or(Error::BadAddress)?,
            };
            let Some(access) = access else {
                record.parked.insert(page, frame);
                continue;
            };
            // The page's tables still exist (unmapping keeps them), so no frame is needed; a
            // table is allocated only for a page parked while its tables were freed, never.
            let frames = &mut self.frames;
            let mut tables = 0u64;
            let result = arch::paging::map(root, page, frame, access, &mut || {
                tables += 1;
                frames.allocate()
            });
            let record = &mut self.entities[entity as usize];
            record.memory_used += tables * 4096;
            if result.is_err() {
                record.parked.insert(page, frame);
                return Err(Error::OutOfMemory);
            }
        }
        Ok(())
    }

    /// Ends a thread; the entity ends with its last thread.
    pub fn end_thread(&mut self, thread: ThreadId, exit_code: i64) {
        self.detach(thread);
        if self.current == Some(thread) {
            self.current = None;
        }
        let entity = self.threads[thread as usize].entity;
        if self.extended_live == Some(thread) {
            self.extended_live = None;
        }
        let clear_address = core::mem::take(&mut self.threads[thread as usize].clear_address);
        if clear_address != 0 {
            // As Linux's CLONE_CHILD_CLEARTID: a joiner waits on this word. A bad address is
            // the entity's own loss.
            let root = self.entities[entity as usize].root;
            if crate::memory::user::write(root, clear_address, &0u32.to_le_bytes()).is_ok() {
                crate::futex::wake(self, entity, clear_address, 1);
            }
        }
        self.entities[entity as usize].thread_count -= 1;
        if let Some(caller) = self.threads[thread as usize].reply_to.take() {
            self.fail_caller(caller);
        }
        if self.entities[entity as usize].thread_count == 0 {
            self.end_entity(entity, Ending::Exited(exit_code));
        }
    }

    fn fail_caller(&mut self, caller: ThreadId) {
        if matches!(
            self.threads[caller as usize].state,
            State::AwaitingReply { .. }
        ) {
            self.detach(caller);
            self.wake(caller, Err(Error::PeerGone), 0);
        }
    }

    /// Ends an entity: every thread, every endpoint it serves, and its memory.
    pub fn end_entity(&mut self, entity: EntityId, ending: Ending) {
        if !self.entities[entity as usize].alive {
            return;
        }
        self.entities[entity as usize].alive = false;
        let name = self.entities[entity as usize].name.clone();
        match ending {
            Ending::Exited(code) => console::line(format_args!(
                "[kernel] entity '{name}' exited with status {code}"
            )),
            Ending::Faulted(fault) => console::line(format_args!(
                "[kernel] entity '{name}' stopped: {fault}; the rest of the system goes on"
            )),
            Ending::OutOfMemory => console::line(format_args!(
                "[kernel] entity '{name}' stopped: no kernel memory for its floating-point \
                 state; the rest of the system goes on"
            )),
        }
        for thread in 0..self.threads.len() as ThreadId {
            if self.threads[thread as usize].entity != entity {
                continue;
            }
            self.detach(thread);
            if let Some(caller) = self.threads[thread as usize].reply_to.take() {
                self.fail_caller(caller);
            }
            if self.current == Some(thread) {
                self.current = None;
            }
            if self.extended_live == Some(thread) {
                self.extended_live = None;
            }
        }
        self.entities[entity as usize].thread_count = 0;
        crate::ipc::tell_servers_of_end(self, entity);
        for endpoint in 0..self.endpoints.len() {
            if self.endpoints[endpoint].owner == entity {
                self.endpoints[endpoint].alive = false;
                while let Some(sender) = self.endpoints[endpoint].senders.pop_front() {
                    self.threads[sender as usize].state = State::Dead;
                    self.wake(sender, Err(Error::PeerGone), 0);
                }
            }
        }
        // Its devices stop reaching memory by DMA before its frames go back to the allocator.
        crate::device::reset_all(self, entity);
        // Free the address space from the kernel's own root.
        if self.active_root == self.entities[entity as usize].root {
            arch::paging::activate(arch::paging::kernel_root());
            self.active_root = arch::paging::kernel_root();
        }
        let record = &mut self.entities[entity as usize];
        let owned = core::mem::take(&mut record.owned_frames);
        let root = record.root;
        for frame in owned {
            self.frames.free(frame);
        }
        let frames = &mut self.frames;
        arch::paging::destroy(root, &mut |frame| frames.free(frame));
        if self.exit_with == Some(entity) {
            let status = match ending {
                Ending::Exited(code) => code.clamp(0, 125) as u8,
                Ending::Faulted(_) | Ending::OutOfMemory => 125,
            };
            console::line(format_args!(
                "[kernel] '{name}' ended the system; powering off with status {status}"
            ));
            arch::power_off(status);
        }
        if self.entities.iter().all(|entity| !entity.alive) {
            console::line(format_args!(
                "[kernel] every entity has ended; powering off"
            ));
            arch::power_off(0);
        }
    }
}

/// How an entity ended.
#[derive(Clone, Copy, Debug)]
pub enum Ending {
    /// It called exit (or its last thread ended).
    Exited(i64),
    /// The processor raised an exception in it.
    Faulted(arch::Fault),
    /// The kernel had no memory for state the entity's use requires.
    OutOfMemory,
}

/// Converts a relative timeout to an absolute deadline (`None` for "never").
pub fn deadline(timeout: u64) -> Option<u64> {
    if timeout == septa_abi::TIMEOUT_NEVER {
        None
    } else {
        Some(arch::timer::now_nanoseconds().saturating_add(timeout))
    }
}

/// The one kernel instance, reached only through [`with`].
struct KernelCell(UnsafeCell<Option<Kernel>>);
// SAFETY: the kernel runs on one processor with interrupts masked except while idle, when no
// borrow is held; `BORROWED` turns any reentrant use into a panic instead of aliasing.
unsafe impl Sync for KernelCell {}

static KERNEL: KernelCell = KernelCell(UnsafeCell::new(None));
static BORROWED: AtomicBool = AtomicBool::new(false);

/// Installs the kernel state at boot.
pub fn install(kernel: Kernel) {
    with_cell(|slot| *slot = Some(kernel));
}

fn with_cell<R>(function: impl FnOnce(&mut Option<Kernel>) -> R) -> R {
    if BORROWED.swap(true, Ordering::Acquire) {
        panic!("kernel state borrowed twice");
    }
    // SAFETY: `BORROWED` guarantees this is the only live reference.
    let result = function(unsafe { &mut *KERNEL.0.get() });
    BORROWED.store(false, Ordering::Release);
    result
}

/// Runs `function` with the kernel state.
pub fn with<R>(function: impl FnOnce(&mut Kernel) -> R) -> R {
    with_cell(|slot| match slot {
        Some(kernel) => function(kernel),
        None => panic!("kernel state used before boot"),
    })
}
