//! The arm64 boot image: the kernel's ELF file flattened into the form that
//! QEMU's `virt` board boots as a Linux `Image` (Documentation/arm64/booting.rst).
//!
//! The kernel's linker script puts the 64-byte image header first, so the
//! flattened file starts with it; this module only lays the loadable segments
//! out by physical address and checks that the header is there.

use std::path::Path;

use anyhow::{Context, Result, bail};
use elf::ElfBytes;
use elf::abi::PT_LOAD;
use elf::endian::LittleEndian;

/// Offset and value of the header's magic number, "ARM\x64".
const MAGIC_OFFSET: usize = 56;
const MAGIC: [u8; 4] = *b"ARM\x64";
/// Largest image accepted (the kernel's linker script keeps it far smaller).
const SIZE_MAX: u64 = 64 << 20;

/// Flattens the ELF file `bytes`: each loadable segment's file contents at
/// its physical address minus the lowest one, zero-filled between segments.
pub fn flatten(bytes: &[u8]) -> Result<Vec<u8>> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes)
        .map_err(|error| anyhow::anyhow!("not an ELF file: {error}"))?;
    let segments: Vec<_> = file
        .segments()
        .context("the ELF file has no program headers")?
        .iter()
        .filter(|segment| segment.p_type == PT_LOAD && segment.p_filesz > 0)
        .collect();
    let Some(base) = segments.iter().map(|segment| segment.p_paddr).min() else {
        bail!("the ELF file has no loadable contents");
    };
    let end = segments
        .iter()
        .map(|segment| segment.p_paddr + segment.p_filesz)
        .max()
        .unwrap_or(base);
    if end - base > SIZE_MAX {
        bail!(
            "the loadable segments span {} bytes, more than {SIZE_MAX}",
            end - base
        );
    }
    let mut image = vec![0u8; (end - base) as usize];
    for segment in segments {
        let source = bytes
            .get(segment.p_offset as usize..(segment.p_offset + segment.p_filesz) as usize)
            .context("a segment lies outside the ELF file")?;
        let start = (segment.p_paddr - base) as usize;
        image[start..start + source.len()].copy_from_slice(source);
    }
    if image.get(MAGIC_OFFSET..MAGIC_OFFSET + 4) != Some(&MAGIC[..]) {
        bail!("the kernel does not start with the arm64 image header");
    }
    Ok(image)
}

/// Writes the flattened form of the ELF file `elf` to `output`.
pub fn write(elf: &Path, output: &Path) -> Result<()> {
    let bytes = std::fs::read(elf).with_context(|| format!("could not read {}", elf.display()))?;
    let image = flatten(&bytes).with_context(|| format!("in {}", elf.display()))?;
    if let Some(directory) = output.parent() {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("could not create {}", directory.display()))?;
    }
    std::fs::write(output, image).with_context(|| format!("could not write {}", output.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_elf() {
        assert!(flatten(b"not an elf file at all").is_err());
    }

    #[test]
    fn rejects_an_elf_file_without_the_header() {
        // The test program itself: a valid ELF file with no arm64 image header.
        let own = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let error = flatten(&own).unwrap_err().to_string();
        assert!(
            error.contains("image header") || error.contains("span"),
            "{error}"
        );
    }
}
