//! A writer for the "newc" cpio format, the one Linux unpacks as an initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Each entry is a 110-byte ASCII header (the magic `070701` and thirteen
//! 8-digit hexadecimal fields), the NUL-terminated name padded to a multiple
//! of four bytes, then the data padded the same way. The archive ends with an
//! entry named `TRAILER!!!`.

/// What an entry is, with what only that kind carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File { contents: Vec<u8> },
    CharacterDevice { major: u32, minor: u32 },
}

/// One entry: a path relative to the archive's root, with its permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    /// Permission bits only (for example 0o755); the type bits come from the kind.
    pub permissions: u32,
    pub kind: Kind,
}

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";
const TYPE_DIRECTORY: u32 = 0o040000;
const TYPE_FILE: u32 = 0o100000;
const TYPE_CHARACTER_DEVICE: u32 = 0o020000;

/// The archive holding `entries` in order, owned by root, dated 0 (so the
/// same inputs give the same bytes).
pub fn archive(entries: &[Entry]) -> Vec<u8> {
    let mut output = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        // Inode numbers only need to be distinct; 0 is avoided because some
        // readers treat it as "no inode".
        let inode = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let (mode, links, data, (major, minor)): (u32, u32, &[u8], (u32, u32)) = match &entry.kind {
            Kind::Directory => (TYPE_DIRECTORY, 2, &[], (0, 0)),
            Kind::File { contents } => (TYPE_FILE, 1, contents, (0, 0)),
            Kind::CharacterDevice { major, minor } => {
                (TYPE_CHARACTER_DEVICE, 1, &[], (*major, *minor))
            }
        };
        let header = Header {
            inode,
            mode: mode | (entry.permissions & 0o7777),
            links,
            size: data.len(),
            device_major: major,
            device_minor: minor,
        };
        write_entry(
            &mut output,
            &header,
            entry.path.trim_start_matches('/'),
            data,
        );
    }
    let trailer = Header {
        inode: 0,
        mode: 0,
        links: 1,
        size: 0,
        device_major: 0,
        device_minor: 0,
    };
    write_entry(&mut output, &trailer, TRAILER, &[]);
    output
}

struct Header {
    inode: u32,
    mode: u32,
    links: u32,
    size: usize,
    /// The device a special file stands for (`rdevmajor`, `rdevminor`).
    device_major: u32,
    device_minor: u32,
}

fn write_entry(output: &mut Vec<u8>, header: &Header, name: &str, data: &[u8]) {
    // The name size counts the terminating NUL.
    let name_size = name.len() + 1;
    let fields: [usize; 13] = [
        header.inode as usize,
        header.mode as usize,
        0, // uid
        0, // gid
        header.links as usize,
        0, // mtime
        header.size,
        0, // devmajor: the file system holding the file; irrelevant here
        0, // devminor
        header.device_major as usize,
        header.device_minor as usize,
        name_size,
        0, // check: only used by the "070702" CRC format
    ];
    output.extend_from_slice(MAGIC.as_bytes());
    for field in fields {
        output.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    output.extend_from_slice(name.as_bytes());
    output.push(0);
    pad_to_four(output);
    output.extend_from_slice(data);
    pad_to_four(output);
}

fn pad_to_four(output: &mut Vec<u8>) {
    while !output.len().is_multiple_of(4) {
        output.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(bytes: &[u8], index: usize) -> u32 {
        let start = 6 + index * 8;
        u32::from_str_radix(std::str::from_utf8(&bytes[start..start + 8]).unwrap(), 16).unwrap()
    }

    #[test]
    fn a_file_entry_is_laid_out_as_newc() {
        let bytes = archive(&[Entry {
            path: "/init".to_owned(),
            permissions: 0o755,
            kind: Kind::File {
                contents: b"hello".to_vec(),
            },
        }]);
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(field(&bytes, 1), 0o100755); // mode
        assert_eq!(field(&bytes, 6), 5); // file size
        assert_eq!(field(&bytes, 11), 5); // "init" and its NUL
        // 110-byte header + "init\0" = 115, padded to 116; then the data.
        assert_eq!(&bytes[110..115], b"init\0");
        assert_eq!(&bytes[116..121], b"hello");
        // Data padded to 124, where the trailer starts.
        let trailer = &bytes[124..];
        assert_eq!(&trailer[..6], b"070701");
        assert_eq!(&trailer[110..121], b"TRAILER!!!\0");
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn devices_and_directories_carry_their_type_and_numbers() {
        let bytes = archive(&[
            Entry {
                path: "dev".to_owned(),
                permissions: 0o755,
                kind: Kind::Directory,
            },
            Entry {
                path: "dev/console".to_owned(),
                permissions: 0o600,
                kind: Kind::CharacterDevice { major: 5, minor: 1 },
            },
        ]);
        assert_eq!(field(&bytes, 1), 0o040755);
        // "dev\0" makes 114 bytes, padded to 116; no data.
        let console = &bytes[116..];
        assert_eq!(field(console, 0), 2); // inode
        assert_eq!(field(console, 1), 0o020600);
        assert_eq!((field(console, 9), field(console, 10)), (5, 1));
        assert_eq!(&console[110..122], b"dev/console\0");
    }

    #[test]
    fn the_cpio_tool_reads_it_back() {
        // Cross-check with GNU cpio when the host has it; the layout tests
        // above do not depend on it.
        let Some(cpio) = crate::prerequisites::find_program("cpio") else {
            return;
        };
        let bytes = archive(&[
            Entry {
                path: "proc".to_owned(),
                permissions: 0o555,
                kind: Kind::Directory,
            },
            Entry {
                path: "init".to_owned(),
                permissions: 0o755,
                kind: Kind::File {
                    contents: b"#!/bin/sh\n".to_vec(),
                },
            },
        ]);
        let mut child = std::process::Command::new(cpio)
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let listing = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 2, "{listing}");
        assert!(
            lines[0].starts_with("dr-xr-xr-x") && lines[0].ends_with(" proc"),
            "{listing}"
        );
        assert!(
            lines[1].starts_with("-rwxr-xr-x") && lines[1].ends_with(" init"),
            "{listing}"
        );
    }
}
