//! Validating an entity's ELF executable and planning its segments, before any memory is
//! touched: the kernel maps only what this plan allows.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;
use elf::ElfBytes;
use elf::abi::{ET_EXEC, PF_W, PF_X, PT_LOAD, PT_PHDR};
use elf::endian::LittleEndian;

/// One loadable segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual address of the first byte.
    pub start: u64,
    /// Virtual address one past the last byte (file part plus zero-filled part).
    pub end: u64,
    /// Bytes of the file copied to `start`.
    pub file: Range<usize>,
    /// Writable by the entity.
    pub writable: bool,
    /// Executable by the entity.
    pub executable: bool,
}

/// A validated executable: its entry point and segments, in address order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executable {
    /// Entry point.
    pub entry: u64,
    /// Loadable segments, sorted, on pages that do not overlap.
    pub segments: Vec<Segment>,
    /// Where the program headers are in the loaded image (for the auxiliary vector's
    /// `AT_PHDR`, which C libraries read to find their thread-local storage), if loaded.
    pub program_headers: Option<u64>,
    /// Number of program headers.
    pub program_header_count: u16,
    /// Size of one program header.
    pub program_header_size: u16,
}

/// Why an executable was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecutableError {
    /// The bytes are not a parsable little-endian ELF file.
    NotElf,
    /// The file is for another machine.
    WrongMachine {
        /// The file's `e_machine`.
        machine: u16,
    },
    /// The file is not a fixed-address executable (`ET_EXEC`).
    NotStaticExecutable,
    /// There are no loadable segments.
    NoSegments,
    /// A segment is both writable and executable (W^X).
    WritableAndExecutable {
        /// The segment's address.
        address: u64,
    },
    /// A segment lies outside user space.
    OutsideUserSpace {
        /// The segment's address.
        address: u64,
    },
    /// A segment's file part lies outside the file or exceeds its memory size.
    OutsideFile {
        /// The segment's address.
        address: u64,
    },
    /// Two segments share a page (the page could not have one set of permissions).
    Overlapping {
        /// The later segment's address.
        address: u64,
    },
    /// The entry point is not inside an executable segment.
    EntryNotExecutable {
        /// The entry point.
        entry: u64,
    },
}

impl fmt::Display for ExecutableError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecutableError::NotElf => write!(formatter, "not an ELF file"),
            ExecutableError::WrongMachine { machine } => {
                write!(formatter, "built for another machine (e_machine {machine})")
            }
            ExecutableError::NotStaticExecutable => {
                write!(formatter, "not a static fixed-address executable (ET_EXEC)")
            }
            ExecutableError::NoSegments => write!(formatter, "no loadable segments"),
            ExecutableError::WritableAndExecutable { address } => {
                write!(
                    formatter,
                    "segment at {address:#x} is writable and executable (W^X)"
                )
            }
            ExecutableError::OutsideUserSpace { address } => {
                write!(formatter, "segment at {address:#x} lies outside user space")
            }
            ExecutableError::OutsideFile { address } => {
                write!(formatter, "segment at {address:#x} lies outside the file")
            }
            ExecutableError::Overlapping { address } => {
                write!(
                    formatter,
                    "segment at {address:#x} shares a page with another"
                )
            }
            ExecutableError::EntryNotExecutable { entry } => {
                write!(
                    formatter,
                    "entry point {entry:#x} is not in an executable segment"
                )
            }
        }
    }
}

const PAGE: u64 = 4096;

/// Validates `bytes` as a static executable for `machine` whose segments lie in
/// `user_space`, and plans its segments.
pub fn parse(
    bytes: &[u8],
    machine: u16,
    user_space: Range<u64>,
) -> Result<Executable, ExecutableError> {
    let file =
        ElfBytes::<LittleEndian>::minimal_parse(bytes).map_err(|_| ExecutableError::NotElf)?;
    if file.ehdr.e_machine != machine {
        return Err(ExecutableError::WrongMachine {
            machine: file.ehdr.e_machine,
        });
    }
    if file.ehdr.e_type != ET_EXEC {
        return Err(ExecutableError::NotStaticExecutable);
    }
    let headers = file.segments().ok_or(ExecutableError::NoSegments)?;
    let mut segments = Vec::new();
    for header in headers.iter().filter(|header| header.p_type == PT_LOAD) {
        let address = header.p_vaddr;
        let writable = header.p_flags & PF_W != 0;
        let executable = header.p_flags & PF_X != 0;
        if writable && executable {
            return Err(ExecutableError::WritableAndExecutable { address });
        }
        let end = address
            .checked_add(header.p_memsz)
            .filter(|end| address >= user_space.start && *end <= user_space.end)
            .ok_or(ExecutableError::OutsideUserSpace { address })?;
        let file_start = usize::try_from(header.p_offset)
            .map_err(|_| ExecutableError::OutsideFile { address })?;
        let file_end = usize::try_from(header.p_filesz)
            .ok()
            .and_then(|size| file_start.checked_add(size))
            .filter(|file_end| *file_end <= bytes.len() && header.p_filesz <= header.p_memsz)
            .ok_or(ExecutableError::OutsideFile { address })?;
        if header.p_memsz == 0 {
            continue;
        }
        segments.push(Segment {
            start: address,
            end,
            file: file_start..file_end,
            writable,
            executable,
        });
    }
    if segments.is_empty() {
        return Err(ExecutableError::NoSegments);
    }
    segments.sort_by_key(|segment| segment.start);
    for pair in segments.windows(2) {
        let previous_last_page = (pair[0].end - 1) / PAGE;
        if pair[1].start / PAGE <= previous_last_page {
            return Err(ExecutableError::Overlapping {
                address: pair[1].start,
            });
        }
    }
    let entry = file.ehdr.e_entry;
    if !segments
        .iter()
        .any(|segment| segment.executable && (segment.start..segment.end).contains(&entry))
    {
        return Err(ExecutableError::EntryNotExecutable { entry });
    }
    let table_size = u64::from(file.ehdr.e_phnum) * u64::from(file.ehdr.e_phentsize);
    let program_headers = headers
        .iter()
        .find(|header| header.p_type == PT_PHDR)
        .map(|header| header.p_vaddr)
        .or_else(|| {
            headers
                .iter()
                .filter(|header| header.p_type == PT_LOAD)
                .find(|header| {
                    header.p_offset <= file.ehdr.e_phoff
                        && file.ehdr.e_phoff.saturating_add(table_size)
                            <= header.p_offset.saturating_add(header.p_filesz)
                })
                .map(|header| header.p_vaddr + (file.ehdr.e_phoff - header.p_offset))
        })
        .filter(|address| {
            segments.iter().any(|segment| {
                segment.start <= *address
                    && address.saturating_add(table_size)
                        <= segment.start + segment.file.len() as u64
            })
        });
    Ok(Executable {
        entry,
        segments,
        program_headers,
        program_header_count: file.ehdr.e_phnum,
        program_header_size: file.ehdr.e_phentsize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const MACHINE: u16 = elf::abi::EM_X86_64;
    const USER: Range<u64> = 0x10_0000..0x8000_0000_0000;

    /// A program header: (flags, virtual address, file offset, file size, memory size).
    type Header = (u32, u64, u64, u64, u64);

    /// Builds a minimal ELF64 executable with the given entry and program headers, padded to
    /// `length` bytes.
    fn elf_file(machine: u16, kind: u16, entry: u64, headers: &[Header], length: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; length.max(64 + 56 * headers.len())];
        bytes[..4].copy_from_slice(b"\x7fELF");
        bytes[4] = 2; // 64-bit
        bytes[5] = 1; // little-endian
        bytes[6] = 1; // version
        bytes[16..18].copy_from_slice(&kind.to_le_bytes());
        bytes[18..20].copy_from_slice(&machine.to_le_bytes());
        bytes[20..24].copy_from_slice(&1u32.to_le_bytes());
        bytes[24..32].copy_from_slice(&entry.to_le_bytes());
        bytes[32..40].copy_from_slice(&64u64.to_le_bytes()); // program headers follow
        bytes[52..54].copy_from_slice(&64u16.to_le_bytes());
        bytes[54..56].copy_from_slice(&56u16.to_le_bytes());
        bytes[56..58].copy_from_slice(&(headers.len() as u16).to_le_bytes());
        bytes[58..60].copy_from_slice(&64u16.to_le_bytes());
        for (index, (flags, address, offset, file_size, memory_size)) in headers.iter().enumerate()
        {
            let at = 64 + 56 * index;
            bytes[at..at + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
            bytes[at + 4..at + 8].copy_from_slice(&flags.to_le_bytes());
            bytes[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
            bytes[at + 16..at + 24].copy_from_slice(&address.to_le_bytes());
            bytes[at + 24..at + 32].copy_from_slice(&address.to_le_bytes());
            bytes[at + 32..at + 40].copy_from_slice(&file_size.to_le_bytes());
            bytes[at + 40..at + 48].copy_from_slice(&memory_size.to_le_bytes());
            bytes[at + 48..at + 56].copy_from_slice(&PAGE.to_le_bytes());
        }
        bytes
    }

    const CODE: u32 = PF_X | elf::abi::PF_R;
    const DATA: u32 = PF_W | elf::abi::PF_R;

    #[test]
    fn plans_code_and_data() {
        let bytes = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[
                (CODE, 0x40_1000, 0x100, 0x200, 0x200),
                (DATA, 0x40_2000, 0x300, 0x10, 0x1000),
            ],
            0x400,
        );
        let executable = parse(&bytes, MACHINE, USER).unwrap();
        assert_eq!(executable.entry, 0x40_1000);
        assert_eq!(
            executable.segments,
            vec![
                Segment {
                    start: 0x40_1000,
                    end: 0x40_1200,
                    file: 0x100..0x300,
                    writable: false,
                    executable: true
                },
                Segment {
                    start: 0x40_2000,
                    end: 0x40_3000,
                    file: 0x300..0x310,
                    writable: true,
                    executable: false
                },
            ]
        );
    }

    #[test]
    fn refuses_writable_and_executable() {
        let bytes = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[(CODE | PF_W, 0x40_1000, 0x100, 0x10, 0x10)],
            0x200,
        );
        assert_eq!(
            parse(&bytes, MACHINE, USER),
            Err(ExecutableError::WritableAndExecutable { address: 0x40_1000 })
        );
    }

    #[test]
    fn refuses_other_machines_and_kinds() {
        let bytes = elf_file(
            elf::abi::EM_AARCH64,
            ET_EXEC,
            0x40_1000,
            &[(CODE, 0x40_1000, 0x100, 0x10, 0x10)],
            0x200,
        );
        assert_eq!(
            parse(&bytes, MACHINE, USER),
            Err(ExecutableError::WrongMachine {
                machine: elf::abi::EM_AARCH64
            })
        );
        let bytes = elf_file(
            MACHINE,
            elf::abi::ET_DYN,
            0x1000,
            &[(CODE, 0x1000, 0x100, 0x10, 0x10)],
            0x200,
        );
        assert_eq!(
            parse(&bytes, MACHINE, USER),
            Err(ExecutableError::NotStaticExecutable)
        );
        assert_eq!(
            parse(b"not an elf file at all", MACHINE, USER),
            Err(ExecutableError::NotElf)
        );
        assert_eq!(parse(&[], MACHINE, USER), Err(ExecutableError::NotElf));
    }

    #[test]
    fn refuses_segments_outside_user_space_or_file() {
        let kernel = elf_file(
            MACHINE,
            ET_EXEC,
            0xffff_ffff_8000_0000,
            &[(CODE, 0xffff_ffff_8000_0000, 0x100, 0x10, 0x10)],
            0x200,
        );
        assert_eq!(
            parse(&kernel, MACHINE, USER),
            Err(ExecutableError::OutsideUserSpace {
                address: 0xffff_ffff_8000_0000
            })
        );
        let low = elf_file(
            MACHINE,
            ET_EXEC,
            0x1000,
            &[(CODE, 0x1000, 0x100, 0x10, 0x10)],
            0x200,
        );
        assert_eq!(
            parse(&low, MACHINE, USER),
            Err(ExecutableError::OutsideUserSpace { address: 0x1000 })
        );
        let wrapping = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[(CODE, 0x40_1000, 0x100, 0x10, u64::MAX)],
            0x200,
        );
        assert_eq!(
            parse(&wrapping, MACHINE, USER),
            Err(ExecutableError::OutsideUserSpace { address: 0x40_1000 })
        );
        let past_end = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[(CODE, 0x40_1000, 0x100, 0x1000, 0x1000)],
            0x200,
        );
        assert_eq!(
            parse(&past_end, MACHINE, USER),
            Err(ExecutableError::OutsideFile { address: 0x40_1000 })
        );
        let offset_overflow = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[(CODE, 0x40_1000, u64::MAX, 0x10, 0x10)],
            0x200,
        );
        assert_eq!(
            parse(&offset_overflow, MACHINE, USER),
            Err(ExecutableError::OutsideFile { address: 0x40_1000 })
        );
        let file_larger = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[(CODE, 0x40_1000, 0x100, 0x20, 0x10)],
            0x200,
        );
        assert_eq!(
            parse(&file_larger, MACHINE, USER),
            Err(ExecutableError::OutsideFile { address: 0x40_1000 })
        );
    }

    #[test]
    fn refuses_shared_pages_and_a_bad_entry() {
        let shared = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[
                (CODE, 0x40_1000, 0x100, 0x10, 0x10),
                (DATA, 0x40_1800, 0x110, 0x10, 0x10),
            ],
            0x200,
        );
        assert_eq!(
            parse(&shared, MACHINE, USER),
            Err(ExecutableError::Overlapping { address: 0x40_1800 })
        );
        let data_entry = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_2000,
            &[
                (CODE, 0x40_1000, 0x100, 0x10, 0x10),
                (DATA, 0x40_2000, 0x110, 0x10, 0x10),
            ],
            0x200,
        );
        assert_eq!(
            parse(&data_entry, MACHINE, USER),
            Err(ExecutableError::EntryNotExecutable { entry: 0x40_2000 })
        );
        let empty = elf_file(MACHINE, ET_EXEC, 0x40_1000, &[], 0x200);
        assert_eq!(
            parse(&empty, MACHINE, USER),
            Err(ExecutableError::NoSegments)
        );
    }

    #[test]
    fn never_panics_on_truncations_or_flipped_bytes() {
        let good = elf_file(
            MACHINE,
            ET_EXEC,
            0x40_1000,
            &[
                (CODE, 0x40_1000, 0x100, 0x200, 0x200),
                (DATA, 0x40_2000, 0x300, 0x10, 0x1000),
            ],
            0x400,
        );
        for length in 0..good.len() {
            let _ = parse(&good[..length], MACHINE, USER);
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            let mut bytes = good.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let index = (state % bytes.len() as u64) as usize;
                bytes[index] = (state >> 32) as u8;
            }
            let _ = parse(&bytes, MACHINE, USER);
        }
    }
}
