//! The server's second check against the system's policy.
//!
//! The security monitor checks every request on the path the client sent. Symbolic links can
//! make that path lead elsewhere (`/data/app/link -> /etc/passwd`), so whenever the walk
//! resolved a path to a different one, the server encodes the same request with the resolved
//! path and asks the monitor again (the kernel's `MONITOR_CHECK`): one policy, written once in
//! the system description, decided by one engine, on the path that is really used.

use septa_interfaces::Recorder;
use septa_interfaces::file::FileClient;

/// Asks the security monitor about requests to this server.
pub trait Monitor {
    /// Whether the policy lets `client` send `request` (one whole File request message) to
    /// this server. A denial is the monitor's to report (an audit line on the console).
    fn permits(&mut self, client: u32, request: &[u8]) -> bool;
}

/// No monitor above the server: everything is permitted. Only for a server with no policy
/// around it (host runs); on Septa the entity asks the kernel.
#[derive(Debug, Default)]
pub struct Unmonitored;

impl Monitor for Unmonitored {
    fn permits(&mut self, _client: u32, _request: &[u8]) -> bool {
        true
    }
}

/// The request `encode` makes through a File client, as bytes (empty if it made none).
pub fn encoded(encode: impl FnOnce(&mut FileClient<Recorder>)) -> Vec<u8> {
    let mut client = FileClient::new(Recorder::default());
    encode(&mut client);
    client.into_transport().request
}
