//! The system description file as written: every table and key, with the positions that
//! diagnostics point at. Documented for users in `docs/system-description.md`.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A whole description file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Description {
    pub system: SystemSection,
    #[serde(default)]
    pub entity: Vec<EntitySection>,
    #[serde(default)]
    pub connection: Vec<ConnectionSection>,
    #[serde(default)]
    pub notification: Vec<NotificationSection>,
    #[serde(default)]
    pub shared_memory: Vec<SharedMemorySection>,
    #[serde(default)]
    pub policy: PolicySection,
}

/// `[system]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SystemSection {
    pub name: Spanned<String>,
    pub exit_with: Option<Spanned<String>>,
    #[serde(default)]
    pub audit_only: bool,
    /// Read by `cargo xtask test`: the system is a system test.
    #[serde(default)]
    #[allow(dead_code, reason = "read by `cargo xtask test`")]
    pub test: bool,
    /// Read by `cargo xtask test`: how long the system test may run.
    #[allow(dead_code, reason = "read by `cargo xtask test`")]
    pub timeout_seconds: Option<Spanned<u64>>,
    /// The size of a blank disk `cargo xtask run` and `test` attach as a virtio block device;
    /// validated here.
    pub disk: Option<Spanned<toml::Value>>,
    /// How the disk is prepared before the first boot: "raw" (blank) or "fat32" (formatted
    /// with mkfs.fat); read by `cargo xtask`, validated here.
    pub disk_format: Option<Spanned<String>>,
    /// Read by `cargo xtask test`: how many times the system boots on one disk; validated here.
    pub boots: Option<Spanned<i64>>,
}

/// `[[entity]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntitySection {
    pub name: Spanned<String>,
    /// A Septa entity program built by xtask (a crate under entities/).
    pub binary: Option<Spanned<String>>,
    /// A C or Rust std executable built with the sysroot, by path.
    pub program: Option<Spanned<String>>,
    #[serde(default)]
    pub arguments: Vec<String>,
    #[serde(default)]
    pub environment: BTreeMap<Spanned<String>, Spanned<String>>,
    pub priority: Option<Spanned<i64>>,
    pub memory: Option<Spanned<toml::Value>>,
    pub stack: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub serves: Vec<Spanned<String>>,
    pub routes: Option<RoutesSection>,
    /// Kinds of virtio device the entity drives (`"virtio-blk"`), one capability each.
    #[serde(default)]
    pub devices: Vec<Spanned<String>>,
}

/// `[entity.routes]`: where libposix sends the entity's file and socket calls.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoutesSection {
    /// Path prefix -> the file VFS entity serving it.
    #[serde(default)]
    pub mounts: BTreeMap<Spanned<String>, Spanned<String>>,
    /// The internal net VFS entity serving `AF_UNIX`.
    pub unix: Option<Spanned<String>>,
    /// The external net VFS entity serving `AF_INET` and `AF_INET6`.
    pub inet: Option<Spanned<String>>,
}

/// `[[connection]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectionSection {
    pub client: Spanned<String>,
    pub server: Spanned<String>,
    pub name: Option<Spanned<String>>,
}

/// `[[notification]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationSection {
    pub name: Spanned<String>,
    #[serde(default)]
    pub signal: Vec<Spanned<String>>,
    #[serde(default)]
    pub wait: Vec<Spanned<String>>,
}

/// `[[shared_memory]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SharedMemorySection {
    pub name: Spanned<String>,
    pub size: Spanned<toml::Value>,
    #[serde(default)]
    pub map: BTreeMap<Spanned<String>, Spanned<Access>>,
}

/// How an entity maps a shared-memory region.
#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Access {
    Read,
    ReadWrite,
}

/// `[policy]`: `[[policy.grant]]` and `[[policy.test]]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicySection {
    #[serde(default)]
    pub grant: Vec<GrantSection>,
    #[serde(default)]
    pub test: Vec<TestSection>,
}

/// `[[policy.grant]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantSection {
    pub source: Spanned<String>,
    pub target: Spanned<String>,
    pub call: Spanned<String>,
    #[serde(rename = "where", default)]
    pub conditions: BTreeMap<Spanned<String>, Spanned<PredicateSection>>,
}

/// One condition of a grant's `where`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum PredicateSection {
    /// `{ prefix = "/etc/" }`: a string or bytes field starts with this.
    Prefix(String),
    /// `{ range = [0, 3] }`: an integer field lies within these bounds, inclusive.
    Range([i64; 2]),
}

/// `[[policy.test]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestSection {
    pub source: Spanned<String>,
    pub target: Spanned<String>,
    pub call: Spanned<String>,
    #[serde(default)]
    pub fields: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    pub expect: Spanned<Expectation>,
}

/// What a policy test expects.
#[derive(Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Expectation {
    Grant,
    Deny,
}
