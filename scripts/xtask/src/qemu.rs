//! The QEMU runner: one machine command line per architecture, shared by
//! `run`, `test` and `bench` (so that Linux baselines boot in exactly the same
//! emulator), and a boot loop that streams the console, keeps a log, enforces
//! a timeout and maps QEMU's exit code back to the system's exit status.
//!
//! How a Septa system ends: the kernel powers off by writing a value V to the
//! `isa-debug-exit` port 0xf4 (x86_64), or by a semihosting SYS_EXIT with
//! `(V << 1) | 1` (aarch64), and QEMU then exits with `(V << 1) | 1`. The
//! kernel writes V = the system's exit status (0..=125); a kernel panic writes
//! [`PANIC_STATUS`]. QEMU exiting with 0 means the machine reset or was shut
//! down some other way, which for Septa means something went wrong (a triple
//! fault resets the machine, and `-no-reboot` turns the reset into an exit).

use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::architecture::Architecture;
use crate::stream;

/// The status the kernel writes on panic.
pub const PANIC_STATUS: i32 = 126;
/// The status reported when the machine reset without powering off.
pub const RESET_STATUS: i32 = 127;
/// The status reported when the run timed out (as `timeout(1)` does).
pub const TIMEOUT_STATUS: i32 = 124;

/// How QEMU executes guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accelerator {
    /// Software emulation: the default. On these machines /dev/kvm is a
    /// nested software hypervisor that mis-runs ring-3 system calls and is
    /// slower than TCG (docs/build.md).
    Tcg,
    /// Hardware virtualisation, only on request (`--kvm`).
    Kvm,
}

impl Accelerator {
    fn name(self) -> &'static str {
        match self {
            Accelerator::Tcg => "tcg",
            Accelerator::Kvm => "kvm",
        }
    }
}

/// The QEMU program for an architecture.
pub fn machine_program(architecture: Architecture) -> &'static str {
    architecture.qemu_program()
}

/// The arguments that describe the machine, without what is booted on it
/// (`-kernel`, `-initrd`, `-append`).
///
/// Every boot of the project (Septa under `run` and `test`, Linux baselines
/// under `bench`) uses these, so results are comparable.
pub fn machine_arguments(architecture: Architecture, accelerator: Accelerator) -> Vec<String> {
    // What is the same on every machine: 512 MiB, one processor, no
    // default devices, the console on standard I/O, and -no-reboot, which
    // turns a reset (a triple fault, say) into an exit instead of a loop.
    const COMMON: [&str; 10] = [
        "-m",
        "512M",
        "-smp",
        "1",
        "-nodefaults",
        "-no-user-config",
        "-nographic",
        "-serial",
        "stdio",
        "-no-reboot",
    ];
    // Each machine's board and processor, then its exit device.
    let (board, exit): ([&str; 4], [&str; 2]) = match architecture {
        // microvm boots a PVH ELF directly and fast; isa-debug-exit lets the
        // guest choose QEMU's exit code.
        Architecture::X86_64 => (
            ["-M", "microvm", "-cpu", "max"],
            ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"],
        ),
        // virt with its default GICv2 and PL011. The kernel starts at EL1
        // (no virtualization, no secure world). Semihosting is the exit
        // device: the kernel's SYS_EXIT carries the same `(V << 1) | 1` code
        // as isa-debug-exit on x86_64. QEMU honours semihosting calls from
        // EL1 only (without `userspace=on`), so entities cannot use it.
        // pauth-impdef keeps the pointer-authentication instructions that
        // Linux executes on every function from dominating TCG's cost.
        Architecture::Aarch64 => (
            ["-M", "virt", "-cpu", "max,pauth-impdef=on"],
            ["-semihosting-config", "enable=on,target=native"],
        ),
    };
    board
        .into_iter()
        .chain(COMMON)
        .chain(exit)
        .chain(["-accel", accelerator.name()])
        .map(str::to_owned)
        .collect()
}

/// The arguments that attach the raw disk image `image` as a virtio block
/// device. On both machines `virtio-blk-device` plugs into a free virtio-mmio
/// transport (microvm has 24, virt 32; QEMU fills the highest-addressed
/// first), where the kernel finds it (docs/kernel.md, "Devices").
pub fn disk_arguments(image: &Path) -> Vec<String> {
    // QEMU's option syntax doubles a comma inside a value.
    let file = image.display().to_string().replace(',', ",,");
    vec![
        "-drive".to_owned(),
        format!("file={file},format=raw,if=none,id=disk0"),
        "-device".to_owned(),
        "virtio-blk-device,drive=disk0".to_owned(),
    ]
}

/// Reads `[system] disk` of a system description: the size in bytes of the
/// blank disk the system boots with, or `None` without one. Read loosely, as
/// [`crate::test_suite::test_settings`] reads the test keys: the image tool
/// validates the key, and has when the image was built.
pub fn disk_size(description: &str) -> Result<Option<u64>> {
    let value: toml::Value = toml::from_str(description).context("not valid TOML")?;
    let Some(disk) = value.get("system").and_then(|system| system.get("disk")) else {
        return Ok(None);
    };
    match septa_image::parse_size(disk) {
        Some(size) if size > 0 => Ok(Some(size)),
        _ => bail!("[system] disk must be a size such as \"16 MiB\", not {disk}"),
    }
}

/// Reads `[system] disk_format`: whether the disk is formatted FAT32 before its first boot.
/// Loose, like [`disk_size`]; the image tool validates the value.
pub fn disk_is_fat(description: &str) -> Result<bool> {
    let value: toml::Value = toml::from_str(description).context("not valid TOML")?;
    Ok(value
        .get("system")
        .and_then(|system| system.get("disk_format"))
        .and_then(toml::Value::as_str)
        == Some("fat32"))
}

/// Formats the disk image at `path` as FAT32 with Debian's `mkfs.fat` (dosfstools).
pub fn format_fat(path: &Path) -> Result<()> {
    let status = Command::new("mkfs.fat")
        .args(["-F", "32", "-n", "SEPTA"])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .status()
        .context("could not run mkfs.fat (Debian package dosfstools)")?;
    if !status.success() {
        bail!("mkfs.fat {} failed ({status})", path.display());
    }
    Ok(())
}

/// Creates a blank (all-zero, sparse) raw disk image of `size` bytes at
/// `path`, replacing what was there: every boot starts from the same disk.
pub fn blank_disk(path: &Path, size: u64) -> Result<()> {
    let file =
        File::create(path).with_context(|| format!("could not create {}", path.display()))?;
    file.set_len(size)
        .with_context(|| format!("could not size {} to {size} bytes", path.display()))
}

/// A `Command` for the machine of `architecture`, ready for `-kernel` and
/// friends to be appended.
pub fn machine_command(architecture: Architecture, accelerator: Accelerator) -> Command {
    let mut command = Command::new(machine_program(architecture));
    command.args(machine_arguments(architecture, accelerator));
    command
}

/// How a boot ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The guest powered off through the debug-exit port with this status.
    PoweredOff { status: i32 },
    /// QEMU exited with 0: the machine reset (or was quit) without powering off.
    Reset,
    /// The run did not end in time and QEMU was killed.
    TimedOut { after: Duration },
    /// QEMU itself failed (a bad option, a missing file): it exited with an
    /// even code, or with 1 before the guest printed anything.
    QemuFailed { code: i32 },
    /// QEMU was killed by a signal that the build tool did not send.
    Killed { signal: i32 },
}

impl Ending {
    /// Maps QEMU's exit code to how the run ended.
    pub fn from_exit_code(code: i32) -> Ending {
        if code == 0 {
            Ending::Reset
        } else if code % 2 == 1 {
            Ending::PoweredOff {
                status: (code - 1) / 2,
            }
        } else {
            Ending::QemuFailed { code }
        }
    }

    /// The exit status that stands for this ending: the system's own status
    /// when it powered off, else 124 (timeout), 127 (reset) or 128 + signal.
    pub fn status(&self) -> i32 {
        match *self {
            Ending::PoweredOff { status } => status,
            Ending::Reset => RESET_STATUS,
            Ending::TimedOut { .. } => TIMEOUT_STATUS,
            Ending::QemuFailed { code } => code,
            Ending::Killed { signal } => 128 + signal,
        }
    }

    /// Whether the system ran to completion and reported success.
    pub fn is_success(&self) -> bool {
        *self == Ending::PoweredOff { status: 0 }
    }

    /// A plain description, for messages.
    pub fn describe(&self) -> String {
        match *self {
            Ending::PoweredOff {
                status: PANIC_STATUS,
            } => {
                format!("kernel panic (status {PANIC_STATUS})")
            }
            Ending::PoweredOff { status } => format!("exit status {status}"),
            Ending::Reset => format!("machine reset (triple fault?) (status {RESET_STATUS})"),
            Ending::TimedOut { after } => {
                format!(
                    "timed out after {} s (status {TIMEOUT_STATUS})",
                    after.as_secs()
                )
            }
            Ending::QemuFailed { code } => format!("QEMU failed (exit code {code})"),
            Ending::Killed { signal } => format!("QEMU was killed by signal {signal}"),
        }
    }
}

/// One boot of a machine.
#[derive(Clone, Debug)]
pub struct Boot {
    pub architecture: Architecture,
    pub accelerator: Accelerator,
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// Further arguments after `-kernel`/`-initrd` (for example `-append`).
    pub extra_arguments: Vec<String>,
    pub timeout: Duration,
    /// Where the full console log goes.
    pub log: PathBuf,
    /// Connect the console's input to the terminal (only when it is one).
    pub interactive: bool,
}

/// What a boot produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub ending: Ending,
    /// The console's lines, without line ends.
    pub console: Vec<String>,
    pub elapsed: Duration,
}

/// The full command line of a boot.
pub fn boot_command(boot: &Boot) -> Command {
    let mut command = machine_command(boot.architecture, boot.accelerator);
    command.arg("-kernel").arg(&boot.kernel);
    if let Some(initrd) = &boot.initrd {
        command.arg("-initrd").arg(initrd);
    }
    command.args(&boot.extra_arguments);
    command
}

/// Boots the machine, streams its console to stdout (QEMU's own messages to
/// stderr), writes both to the log, and waits for the end or the timeout.
pub fn boot(boot: &Boot) -> Result<Outcome> {
    if let Some(directory) = boot.log.parent() {
        std::fs::create_dir_all(directory)
            .with_context(|| format!("could not create {}", directory.display()))?;
    }
    let log = File::create(&boot.log)
        .with_context(|| format!("could not create the console log {}", boot.log.display()))?;
    let log = Arc::new(Mutex::new(log));

    let mut command = boot_command(boot);
    println!("xtask: {}", describe_command(&command));
    let interactive = boot.interactive && std::io::stdin().is_terminal();
    command
        .stdin(if interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("could not start {}", machine_program(boot.architecture)))?;

    let console = child.stdout.take().map(|stdout| {
        let log = Arc::clone(&log);
        thread::spawn(move || stream::forward(stdout, std::io::stdout(), Some(&log)))
    });
    let messages = child.stderr.take().map(|stderr| {
        let log = Arc::clone(&log);
        thread::spawn(move || stream::forward(stderr, std::io::stderr(), Some(&log)))
    });

    let deadline = started + boot.timeout;
    let ending = loop {
        if let Some(status) = child.try_wait().context("could not wait for QEMU")? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            stop(&mut child, interactive);
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();

    let console = match console {
        Some(reader) => reader.join().unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some(reader) = messages {
        let _ = reader.join();
    }
    let ending = match ending {
        None => Ending::TimedOut {
            after: boot.timeout,
        },
        Some(status) => ending_of(status, &console),
    };
    Ok(Outcome {
        ending,
        console,
        elapsed,
    })
}

fn ending_of(status: ExitStatus, console: &[String]) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        // QEMU exits with 1 when it cannot start (a bad option, a missing
        // kernel); a guest that powers off with status 0 has printed
        // something first.
        (Some(1), _) if console.is_empty() => Ending::QemuFailed { code: 1 },
        (Some(code), _) => Ending::from_exit_code(code),
        (None, Some(signal)) => Ending::Killed { signal },
        (None, None) => Ending::QemuFailed { code: -1 },
    }
}

/// Stops a QEMU that ran out of time: first politely, so that it can restore
/// the terminal it put into raw mode, then by force. Only the child this
/// runner spawned is signalled, by its PID.
fn stop(child: &mut Child, interactive: bool) {
    if interactive {
        let terminated = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if terminated {
            let grace = Instant::now() + Duration::from_secs(3);
            while Instant::now() < grace {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A command as one could type it, for progress messages.
pub fn describe_command(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fails early, with a plain message, when a file to boot is missing.
pub fn require_file(path: &Path, what: &str) -> Result<()> {
    if !path.is_file() {
        bail!("{what} {} does not exist", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_exit_codes_carry_the_status() {
        assert_eq!(Ending::from_exit_code(1), Ending::PoweredOff { status: 0 });
        assert_eq!(Ending::from_exit_code(3), Ending::PoweredOff { status: 1 });
        assert_eq!(
            Ending::from_exit_code((125 << 1) | 1),
            Ending::PoweredOff { status: 125 }
        );
        let panic = Ending::from_exit_code((126 << 1) | 1);
        assert_eq!(
            panic,
            Ending::PoweredOff {
                status: PANIC_STATUS
            }
        );
        assert!(panic.describe().contains("kernel panic"));
    }

    #[test]
    fn zero_is_a_reset() {
        let ending = Ending::from_exit_code(0);
        assert_eq!(ending, Ending::Reset);
        assert_eq!(ending.status(), 127);
        assert!(ending.describe().contains("machine reset (triple fault?)"));
    }

    #[test]
    fn even_codes_are_qemu_failures() {
        assert_eq!(Ending::from_exit_code(2), Ending::QemuFailed { code: 2 });
    }

    #[test]
    fn statuses_of_endings() {
        assert_eq!(Ending::PoweredOff { status: 7 }.status(), 7);
        assert_eq!(
            Ending::TimedOut {
                after: Duration::from_secs(5)
            }
            .status(),
            124
        );
        assert_eq!(Ending::Killed { signal: 9 }.status(), 137);
        assert!(Ending::PoweredOff { status: 0 }.is_success());
        assert!(!Ending::PoweredOff { status: 1 }.is_success());
        assert!(!Ending::Reset.is_success());
    }

    #[test]
    fn exit_code_one_without_output_is_qemu_failing_to_start() {
        use std::os::unix::process::ExitStatusExt;
        let one = ExitStatus::from_raw(1 << 8);
        assert_eq!(ending_of(one, &[]), Ending::QemuFailed { code: 1 });
        assert_eq!(
            ending_of(one, &["bye".to_owned()]),
            Ending::PoweredOff { status: 0 }
        );
        assert_eq!(
            ending_of(ExitStatus::from_raw(9), &[]),
            Ending::Killed { signal: 9 }
        );
    }

    #[test]
    fn machine_line_for_x86_64() {
        let line = machine_arguments(Architecture::X86_64, Accelerator::Tcg).join(" ");
        assert_eq!(
            line,
            "-M microvm -cpu max -m 512M -smp 1 -nodefaults -no-user-config -nographic \
             -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 -accel tcg"
        );
        let kvm = machine_arguments(Architecture::X86_64, Accelerator::Kvm);
        assert_eq!(kvm[kvm.len() - 2..], ["-accel", "kvm"]);
    }

    #[test]
    fn a_disk_is_a_virtio_block_device() {
        assert_eq!(
            disk_arguments(Path::new("build/x86_64/devices,1-disk.img")).join(" "),
            "-drive file=build/x86_64/devices,,1-disk.img,format=raw,if=none,id=disk0 \
             -device virtio-blk-device,drive=disk0"
        );
    }

    #[test]
    fn reads_the_disk_size_loosely() {
        let text = "[system]\nname = \"devices\"\ndisk = \"16 MiB\"\nother = 1\n";
        assert_eq!(disk_size(text).unwrap(), Some(16 << 20));
        assert_eq!(disk_size("[system]\ndisk = 4096\n").unwrap(), Some(4096));
        assert_eq!(disk_size("[system]\nname = \"demo\"\n").unwrap(), None);
        assert_eq!(disk_size("disk = 4096\n").unwrap(), None);
        assert!(disk_size("[system]\ndisk = \"16 MB\"\n").is_err());
        assert!(disk_size("[system]\ndisk = 0\n").is_err());
        assert!(disk_size("[system\n").is_err());
    }

    #[test]
    fn a_blank_disk_has_its_size_and_is_emptied() {
        let path = std::env::temp_dir().join(format!("xtask-disk-{}.img", std::process::id()));
        std::fs::write(&path, b"left over").unwrap();
        blank_disk(&path, 1 << 20).unwrap();
        let contents = std::fs::read(&path).unwrap();
        assert_eq!(contents.len(), 1 << 20);
        assert!(contents.iter().all(|byte| *byte == 0));
        std::fs::remove_file(&path).unwrap();
    }

    /// How the tiny guest ends after printing its message.
    #[derive(Clone, Copy)]
    enum GuestEnd {
        /// Write this value to the debug-exit port.
        PowerOff(u32),
        /// Load an empty interrupt table and trap: a triple fault.
        TripleFault,
        /// Halt forever.
        Hang,
    }

    /// A minimal PVH guest, as an ELF32 image: QEMU's microvm loads it with
    /// `-kernel`, enters `_start` in 32-bit protected mode (the PVH boot
    /// protocol, found through the Xen note of type 18,
    /// XEN_ELFNOTE_PHYS32_ENTRY), and the code prints `message` on COM1.
    fn tiny_pvh_guest(message: &str, end: GuestEnd) -> Vec<u8> {
        const BASE: u32 = 0x10_0000;
        const HEADERS: u32 = 52 + 2 * 32;
        const NOTE: u32 = HEADERS;
        const CODE: u32 = NOTE + 20;
        let mut code: Vec<u8> = Vec::new();
        let message_at = |code_length: usize| BASE + CODE + code_length as u32;
        // The code refers to the message after it: assemble twice, the first
        // time to learn the length.
        let assemble = |message_address: u32| {
            let mut code = vec![0xBE]; // mov esi, message
            code.extend(message_address.to_le_bytes());
            code.extend([
                0xAC, // 05: lodsb
                0x84, 0xC0, // test al, al
                0x74, 0x07, // jz 0x11
                0x66, 0xBA, 0xF8, 0x03, // mov dx, 0x3f8 (COM1)
                0xEE, // out dx, al
                0xEB, 0xF4, // jmp 0x05
            ]);
            match end {
                GuestEnd::PowerOff(value) => {
                    code.extend([0x66, 0xBA, 0xF4, 0x00, 0xB8]); // mov dx, 0xf4; mov eax, value
                    code.extend(value.to_le_bytes());
                    code.push(0xEF); // out dx, eax
                }
                GuestEnd::TripleFault => {
                    // lidt [zero]: an interrupt table of limit 0 at the
                    // all-zero bytes of the message's end; then int3.
                    code.extend([0x0F, 0x01, 0x1D]);
                    code.extend((message_address + message.len() as u32).to_le_bytes());
                    code.push(0xCC);
                }
                GuestEnd::Hang => {}
            }
            code.extend([0xF4, 0xEB, 0xFD]); // hlt; jmp back to hlt
            code
        };
        code.extend(assemble(0));
        let code = assemble(message_at(code.len()));
        let mut body = code;
        body.extend(message.as_bytes());
        body.extend([0_u8; 8]); // the string's end, and six zero bytes for lidt
        let total = CODE + body.len() as u32;

        let mut elf = Vec::new();
        let half = |elf: &mut Vec<u8>, value: u16| elf.extend(value.to_le_bytes());
        let word = |elf: &mut Vec<u8>, value: u32| elf.extend(value.to_le_bytes());
        elf.extend([0x7F, b'E', b'L', b'F', 1, 1, 1, 0]); // ELFCLASS32, little-endian
        elf.extend([0_u8; 8]);
        half(&mut elf, 2); // ET_EXEC
        half(&mut elf, 3); // EM_386
        word(&mut elf, 1);
        word(&mut elf, BASE + CODE); // e_entry
        word(&mut elf, 52); // e_phoff
        word(&mut elf, 0); // e_shoff
        word(&mut elf, 0); // e_flags
        for value in [52, 32, 2, 40, 0, 0] {
            half(&mut elf, value); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        }
        // PT_LOAD of the whole file, then PT_NOTE of the Xen note.
        for value in [1, 0, BASE, BASE, total, total, 5, 0x1000] {
            word(&mut elf, value);
        }
        for value in [4, NOTE, BASE + NOTE, BASE + NOTE, 20, 20, 4, 4] {
            word(&mut elf, value);
        }
        for value in [4, 4, 18] {
            word(&mut elf, value); // namesz, descsz, type
        }
        elf.extend(b"Xen\0");
        word(&mut elf, BASE + CODE); // the 32-bit entry point
        assert_eq!(elf.len() as u32, CODE);
        elf.extend(body);
        elf
    }

    /// Boots the tiny guest through [`boot`], when QEMU is installed.
    fn boot_tiny_guest(name: &str, end: GuestEnd, timeout: Duration) -> Option<Outcome> {
        if crate::prerequisites::find_program(machine_program(Architecture::X86_64)).is_none() {
            eprintln!("QEMU is not installed: the boot test is skipped");
            return None;
        }
        let directory =
            std::env::temp_dir().join(format!("xtask-qemu-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let kernel = directory.join("guest.elf");
        // The guest's console shows in the test output: it says where it is from.
        let message = "xtask boot test guest\r\n[check] PLAN 3\r\n[check] PASS tiny-guest\r\n\
                       [check] FAIL tiny-guest: on purpose\r\n";
        std::fs::write(&kernel, tiny_pvh_guest(message, end)).unwrap();
        let initrd = directory.join("image");
        std::fs::write(&initrd, b"an initrd").unwrap();
        let log = directory.join("console.log");
        let outcome = boot(&Boot {
            architecture: Architecture::X86_64,
            accelerator: Accelerator::Tcg,
            kernel,
            initrd: Some(initrd),
            extra_arguments: Vec::new(),
            timeout,
            log: log.clone(),
            interactive: false,
        })
        .unwrap();
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(
            logged.contains("[check] PASS tiny-guest\r\n"),
            "log: {logged:?}"
        );
        std::fs::remove_dir_all(&directory).unwrap();
        Some(outcome)
    }

    #[test]
    fn the_machine_line_boots_a_guest_that_powers_off() {
        let Some(outcome) = boot_tiny_guest("off", GuestEnd::PowerOff(3), Duration::from_secs(60))
        else {
            return;
        };
        assert_eq!(outcome.ending, Ending::PoweredOff { status: 3 });
        assert_eq!(outcome.console[0], "xtask boot test guest");
        let checks = crate::checks::tally_console(outcome.console.iter().map(String::as_str));
        assert_eq!(checks.passed, 1);
        assert_eq!(
            checks.failures,
            ["tiny-guest: on purpose", crate::checks::MISSING]
        );
    }

    #[test]
    fn a_triple_fault_is_a_reset() {
        let Some(outcome) =
            boot_tiny_guest("reset", GuestEnd::TripleFault, Duration::from_secs(60))
        else {
            return;
        };
        assert_eq!(outcome.ending, Ending::Reset);
    }

    #[test]
    fn a_hung_guest_times_out() {
        let Some(outcome) = boot_tiny_guest("hang", GuestEnd::Hang, Duration::from_secs(1)) else {
            return;
        };
        assert_eq!(
            outcome.ending,
            Ending::TimedOut {
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(outcome.ending.status(), TIMEOUT_STATUS);
    }
}
