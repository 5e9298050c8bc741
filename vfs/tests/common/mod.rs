//! Shared by the server tests: a clock the test sets, servers built from arguments, and an
//! in-process transport that stamps a chosen sender as the kernel would.
#![allow(dead_code, reason = "each test binary uses part of this module")]

use septa_abi::Error;
use septa_interfaces::Transport;
use septa_interfaces::file::{self, FileClient};
use septa_vfs::{Clock, Configuration, Timestamp, Vfs};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A clock that says what the test last set.
#[derive(Clone, Default)]
pub struct ManualClock {
    now: Rc<Cell<Timestamp>>,
}

impl ManualClock {
    pub fn set(&self, seconds: i64, nanoseconds: u32) {
        self.now.set(Timestamp::new(seconds, nanoseconds));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.now.get()
    }
}

/// A server configured by `arguments` (as the program's), with the clock at 1000 s.
pub fn server_with(arguments: &[&str]) -> (Vfs, ManualClock) {
    let configuration = Configuration::from_arguments(arguments).expect("valid arguments");
    let clock = ManualClock::default();
    clock.set(1000, 0);
    let server = Vfs::new(&configuration, Box::new(clock.clone())).expect("server starts");
    (server, clock)
}

/// The default server: a ramfs at `/` and one at `/tmp`.
pub fn server() -> (Vfs, ManualClock) {
    server_with(&["--mount", "/=ramfs", "--mount", "/tmp=ramfs"])
}

/// An in-process transport to a shared server: stamps `sender` on each request, then calls
/// the generated dispatcher.
pub struct Loopback {
    pub server: Rc<RefCell<Vfs>>,
    pub sender: u32,
    /// The last request, as stamped, for tests that replay requests.
    pub last_request: Rc<RefCell<Vec<u8>>>,
    stamped: Vec<u8>,
}

impl Transport for Loopback {
    fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
        let stamped = self
            .stamped
            .get_mut(..request.len())
            .ok_or(Error::TooLarge)?;
        stamped.copy_from_slice(request);
        stamped[24..28].copy_from_slice(&self.sender.to_le_bytes());
        let mut last_request = self.last_request.borrow_mut();
        last_request.clear();
        last_request.extend_from_slice(stamped);
        Ok(file::dispatch(
            &mut *self.server.borrow_mut(),
            stamped,
            reply,
        ))
    }
}

/// A generated client calling `server` as entity `sender`.
pub fn client(server: &Rc<RefCell<Vfs>>, sender: u32) -> FileClient<Loopback> {
    recording_client(server, sender).0
}

/// A generated client calling `server` as entity `sender`, and where its last request is
/// recorded.
pub fn recording_client(
    server: &Rc<RefCell<Vfs>>,
    sender: u32,
) -> (FileClient<Loopback>, Rc<RefCell<Vec<u8>>>) {
    let last_request = Rc::new(RefCell::new(Vec::new()));
    let transport = Loopback {
        server: Rc::clone(server),
        sender,
        last_request: Rc::clone(&last_request),
        stamped: vec![0; septa_abi::MESSAGE_MAX_SIZE],
    };
    (FileClient::new(transport), last_request)
}
