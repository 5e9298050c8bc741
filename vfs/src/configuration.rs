//! The server's configuration, from its program arguments (which a system description gives
//! in the entity's `arguments`).

use crate::mount::{FileSystemKind, MountSpecification};

/// What `vfs --help` prints, and what a bad argument is followed by.
pub const USAGE: &str = "\
usage: vfs [--mount PREFIX=KIND]... [--ramfs-limit SIZE] [--block-cache SIZE]
           [--handles-per-client COUNT]
  --mount PREFIX=KIND         mount a file system at PREFIX; repeatable. KIND is ramfs, or
                              fat:DEVICE for the FAT volume on the block device reached
                              through the start-up capability named DEVICE (for example
                              fat:virtio-blk). Without any, the server mounts a ramfs at /.
  --ramfs-limit SIZE          bytes all ramfs mounts may hold together (default 64 MiB);
                              SIZE is a number of bytes or a number with B, KiB, MiB or GiB
  --block-cache SIZE          bytes of write-back block cache for each FAT mount
                              (default 256 KiB)
  --handles-per-client COUNT  open files each client may hold (default 1024)

Which client may reach which paths is the system's policy: the monitor checks each request's
path, and the server checks again, with the monitor, every path that symbolic links changed.";

/// Default `--ramfs-limit`: 64 MiB.
pub const DEFAULT_RAMFS_LIMIT: u64 = 64 << 20;
/// Default `--block-cache`: 256 KiB per FAT mount.
pub const DEFAULT_BLOCK_CACHE: u64 = crate::storage::DEFAULT_CACHE_SIZE as u64;
/// Default `--handles-per-client`: as many as a client has descriptors (`RLIMIT_NOFILE`).
pub const DEFAULT_HANDLES_PER_CLIENT: usize = 1024;

/// The server's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Configuration {
    /// The mount table, in argument order.
    pub mounts: Vec<MountSpecification>,
    /// Bytes all ramfs mounts may hold together.
    pub ramfs_limit: u64,
    /// Bytes of block cache for each FAT mount.
    pub block_cache: u64,
    /// Open descriptions each client may hold.
    pub handles_per_client: usize,
}

impl Default for Configuration {
    /// A ramfs at `/`, 64 MiB, 1,024 handles per client.
    fn default() -> Configuration {
        Configuration {
            mounts: vec![MountSpecification {
                prefix: "/".to_owned(),
                kind: FileSystemKind::Ramfs,
            }],
            ramfs_limit: DEFAULT_RAMFS_LIMIT,
            block_cache: DEFAULT_BLOCK_CACHE,
            handles_per_client: DEFAULT_HANDLES_PER_CLIENT,
        }
    }
}

impl Configuration {
    /// Parses the program's arguments (without the program name). Each option takes its value
    /// as the next argument or after `=` (`--mount /=ramfs` or `--mount=/=ramfs`). An error
    /// says what was wrong; `--help` is an error whose message is [`USAGE`].
    pub fn from_arguments<I, S>(arguments: I) -> Result<Configuration, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut configuration = Configuration::default();
        let mut mounts = Vec::new();
        let mut arguments = arguments.into_iter();
        while let Some(argument) = arguments.next() {
            let argument = argument.as_ref();
            if argument == "--help" || argument == "-h" {
                return Err(USAGE.to_owned());
            }
            let (option, inline_value) = match argument.split_once('=') {
                Some((option, value)) if option.starts_with("--") => (option, Some(value)),
                _ => (argument, None),
            };
            let value = match inline_value {
                Some(value) => value.to_owned(),
                None => match option {
                    "--mount" | "--ramfs-limit" | "--block-cache" | "--handles-per-client" => {
                        match arguments.next() {
                            Some(value) => value.as_ref().to_owned(),
                            None => return Err(format!("{option} needs a value")),
                        }
                    }
                    _ => return Err(format!("unknown argument '{argument}'")),
                },
            };
            match option {
                "--mount" => mounts.push(MountSpecification::parse(&value)?),
                "--ramfs-limit" => configuration.ramfs_limit = parse_size(&value)?,
                "--block-cache" => configuration.block_cache = parse_size(&value)?,
                "--handles-per-client" => {
                    configuration.handles_per_client = match value.parse::<usize>() {
                        Ok(count) if count > 0 => count,
                        _ => {
                            return Err(format!(
                                "--handles-per-client '{value}' is not a positive count"
                            ));
                        }
                    }
                }
                _ => return Err(format!("unknown argument '{argument}'")),
            }
        }
        if !mounts.is_empty() {
            configuration.mounts = mounts;
        }
        for (index, mount) in configuration.mounts.iter().enumerate() {
            if configuration.mounts[..index]
                .iter()
                .any(|earlier| earlier.prefix == mount.prefix)
            {
                return Err(format!("'{}' is mounted twice", mount.prefix));
            }
        }
        Ok(configuration)
    }
}

/// Parses a size: bytes, or a number and a unit (`B`, `KiB`, `MiB`, `GiB`; a space between is
/// allowed), as system descriptions write sizes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "size '{text}' has an unknown unit (B, KiB, MiB or GiB)"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(multiplier))
        .ok_or_else(|| format!("size '{text}' is not a number of bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_arguments() {
        let configuration = Configuration::from_arguments(Vec::<String>::new()).unwrap();
        assert_eq!(configuration, Configuration::default());
        assert_eq!(configuration.mounts.len(), 1);
        assert_eq!(configuration.mounts[0].prefix, "/");
    }

    #[test]
    fn every_option_in_both_spellings() {
        let configuration = Configuration::from_arguments([
            "--mount",
            "/=ramfs",
            "--mount=/tmp=ramfs",
            "--ramfs-limit",
            "8 MiB",
            "--block-cache=64 KiB",
            "--mount",
            "/data=fat:virtio-blk",
            "--handles-per-client=16",
        ])
        .unwrap();
        let prefixes: Vec<&str> = configuration
            .mounts
            .iter()
            .map(|mount| mount.prefix.as_str())
            .collect();
        assert_eq!(prefixes, vec!["/", "/tmp", "/data"]);
        assert_eq!(configuration.ramfs_limit, 8 << 20);
        assert_eq!(configuration.block_cache, 64 << 10);
        assert_eq!(configuration.handles_per_client, 16);
    }

    #[test]
    fn mistakes_are_named() {
        for (arguments, expected) in [
            (vec!["--mount"], "--mount needs a value"),
            (vec!["--mount", "/tmp=ext4"], "unknown file system 'ext4'"),
            (
                vec!["--mount", "/=ramfs", "--mount", "/=ramfs"],
                "mounted twice",
            ),
            (vec!["--ramfs-limit", "lots"], "unknown unit"),
            (vec!["--block-cache", "some"], "unknown unit"),
            (vec!["--mount", "/data=fat:"], "not a capability name"),
            (vec!["--ramfs-limit", "99999999999999 GiB"], "not a number"),
            (vec!["--handles-per-client", "0"], "not a positive count"),
            (vec!["--confine", "3=/tmp"], "unknown argument '--confine'"),
            (vec!["--verbose"], "unknown argument '--verbose'"),
            (vec!["--help"], "usage: vfs"),
        ] {
            let error = Configuration::from_arguments(arguments.clone()).unwrap_err();
            assert!(error.contains(expected), "{arguments:?}: {error}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64 MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("3 KiB"), Ok(3072));
        assert_eq!(parse_size("7B"), Ok(7));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("1 MB").is_err());
        assert!(parse_size("-1").is_err());
    }
}
