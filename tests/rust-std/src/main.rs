//! A std Rust program run as a Septa entity: what Rust's standard library
//! needs from the system underneath it.
//!
//! It checks the environment and arguments (the runner passes the arguments
//! `alpha`, `two words` and `gamma` and the variables
//! `SEPTA_TEST_VALUE=forty-two` and `HOME`), threads (spawn and join, a
//! mutex, channels, a barrier, named threads, sleeping, thread-locals and
//! their destructors), panics caught in the same and in another thread,
//! monotonic and system time, collections (a `HashMap` with the default
//! `RandomState`, whose keys come from the system's random source, a
//! `BTreeMap`, sorting) and formatting, and writing to stdout and stderr. It
//! reports one `[check]` line per check, as the C programs in `tests/posix`
//! do, and exits with `std::process::exit`: 0 when everything passed, 1
//! otherwise.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::env;
use std::io::{self, Write};
use std::panic;
use std::process;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PROGRAM: &str = "rust-std";
const PLAN: u32 = 25;
const THREADS: usize = 8;

/// The reporter of the `[check]` protocol.
struct Checks {
    reported: u32,
    failed: u32,
}

impl Checks {
    fn new() -> Checks {
        println!("[check] PLAN {PLAN}");
        Checks {
            reported: 0,
            failed: 0,
        }
    }

    /// Reports `name` as passed when `passed` holds; otherwise as failed with
    /// `detail` (what was expected and what came).
    fn check(&mut self, passed: bool, name: &str, detail: impl FnOnce() -> String) {
        self.reported += 1;
        if passed {
            println!("[check] PASS {PROGRAM}: {name}");
        } else {
            self.failed += 1;
            println!("[check] FAIL {PROGRAM}: {name}: {}", detail());
        }
        // stdout is line-buffered; flushing again is cheap and keeps the order
        // with stderr exact.
        let _ = io::stdout().flush();
    }

    /// Ends the report (a plan that does not match is a failure) and exits.
    fn finish(mut self) -> ! {
        if self.reported != PLAN {
            self.failed += 1;
            println!(
                "[check] FAIL {PROGRAM}: plan: planned {PLAN} checks, reported {}",
                self.reported
            );
        }
        let _ = io::stdout().flush();
        process::exit(i32::from(self.failed != 0))
    }
}

fn check_environment(checks: &mut Checks) {
    let arguments: Vec<String> = env::args().collect();
    checks.check(
        arguments.len() == 4 && arguments[1..] == ["alpha", "two words", "gamma"],
        "env::args",
        || format!("expected [program, alpha, two words, gamma], got {arguments:?}"),
    );
    checks.check(
        arguments.first().is_some_and(|program| !program.is_empty()),
        "env::args names the program",
        || format!("got {:?}", arguments.first()),
    );
    let value = env::var("SEPTA_TEST_VALUE");
    checks.check(
        value.as_deref() == Ok("forty-two"),
        "env::var of a variable the runner sets",
        || format!("expected Ok(\"forty-two\"), got {value:?}"),
    );
    let home = env::var("HOME");
    checks.check(
        home.as_ref().is_ok_and(|home| home.starts_with('/')),
        "env::var HOME is an absolute path",
        || format!("got {home:?}"),
    );
    let missing = env::var("SEPTA_TEST_MISSING_NAME");
    checks.check(
        missing == Err(env::VarError::NotPresent),
        "env::var of a missing name",
        || format!("expected Err(NotPresent), got {missing:?}"),
    );
    // SAFETY: no other thread exists yet, so nothing reads the environment
    // while it changes.
    unsafe { env::set_var("SEPTA_RUST_SET", "set from Rust") };
    let set = env::var("SEPTA_RUST_SET");
    let listed =
        env::vars().any(|(name, value)| name == "SEPTA_RUST_SET" && value == "set from Rust");
    // SAFETY: as above, the program is still single-threaded.
    unsafe { env::remove_var("SEPTA_RUST_SET") };
    let removed = env::var_os("SEPTA_RUST_SET");
    checks.check(
        set.as_deref() == Ok("set from Rust") && listed && removed.is_none(),
        "env::set_var and env::remove_var",
        || format!("after set {set:?} (listed {listed}), after remove {removed:?}"),
    );
}

/// Counts the thread-local guards dropped at thread exit.
static DROPPED_GUARDS: AtomicUsize = AtomicUsize::new(0);

struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        DROPPED_GUARDS.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static IDENTITY: Cell<usize> = const { Cell::new(7) };
    static GUARD: Cell<Option<Guard>> = const { Cell::new(None) };
}

/// Spawn and join, a mutex, a channel, a barrier and thread-locals, over eight threads.
fn check_threads(checks: &mut Checks) {
    let counter = Arc::new(Mutex::new(0_u64));
    let barrier = Arc::new(Barrier::new(THREADS));
    let leaders = Arc::new(AtomicUsize::new(0));
    let (sender, receiver) = mpsc::channel::<(usize, u64)>();
    let mut handles = Vec::new();
    for index in 0..THREADS {
        let (counter, barrier, leaders) = (counter.clone(), barrier.clone(), leaders.clone());
        let sender = sender.clone();
        handles.push(thread::spawn(move || {
            let fresh = IDENTITY.get() == 7;
            IDENTITY.set(index);
            GUARD.set(Some(Guard));
            for step in 0..10_000 {
                *counter.lock().unwrap() += 1;
                if step % 100 == 0 {
                    sender.send((index, step)).unwrap();
                }
            }
            if barrier.wait().is_leader() {
                leaders.fetch_add(1, Ordering::SeqCst);
            }
            // Every thread has written its identity before anyone reads it back.
            let kept = IDENTITY.get() == index;
            (index * 10 + 1, fresh && kept)
        }));
    }
    drop(sender);
    let results: Vec<_> = handles.into_iter().map(thread::JoinHandle::join).collect();
    let messages: Vec<(usize, u64)> = receiver.iter().collect();

    let total = *counter.lock().unwrap();
    checks.check(
        total == THREADS as u64 * 10_000,
        "Arc<Mutex> counter over 8 threads",
        || format!("expected {}, got {total}", THREADS * 10_000),
    );
    let returns_ok = results
        .iter()
        .enumerate()
        .all(|(index, result)| matches!(result, Ok((value, _)) if *value == index * 10 + 1));
    checks.check(returns_ok, "join returns each thread's value", || {
        format!("got {results:?}")
    });
    let sum: u64 = messages.iter().map(|&(_, step)| step).sum();
    checks.check(
        messages.len() == THREADS * 100
            && sum == THREADS as u64 * (0..10_000).step_by(100).sum::<u64>(),
        "mpsc channel from 8 senders",
        || {
            format!(
                "expected {} messages, got {} summing to {sum}",
                THREADS * 100,
                messages.len()
            )
        },
    );
    let leader_count = leaders.load(Ordering::SeqCst);
    checks.check(leader_count == 1, "Barrier elects one leader", || {
        format!("expected 1 leader, got {leader_count}")
    });
    let locals_ok = results.iter().all(|result| matches!(result, Ok((_, true))));
    checks.check(
        locals_ok && IDENTITY.get() == 7,
        "thread_local values are per thread",
        || format!("threads {results:?}, main thread sees {}", IDENTITY.get()),
    );
    let dropped = DROPPED_GUARDS.load(Ordering::SeqCst);
    checks.check(
        dropped == THREADS,
        "thread_local destructors run at thread exit",
        || format!("expected {THREADS} drops, got {dropped}"),
    );
}

/// Named threads, sleeping and rendezvous channels.
fn check_thread_services(checks: &mut Checks) {
    let named = thread::Builder::new()
        .name("septa-worker".into())
        .stack_size(256 * 1024)
        .spawn(|| thread::current().name().map(str::to_owned))
        .map(thread::JoinHandle::join);
    checks.check(
        matches!(&named, Ok(Ok(Some(name))) if name == "septa-worker"),
        "thread::Builder name and stack size",
        || format!("got {named:?}"),
    );

    let start = Instant::now();
    thread::sleep(Duration::from_millis(20));
    let slept = start.elapsed();
    checks.check(
        slept >= Duration::from_millis(20),
        "thread::sleep sleeps at least 20 ms",
        || format!("slept {slept:?}"),
    );

    let (request_sender, request_receiver) = mpsc::sync_channel::<u32>(0);
    let (reply_sender, reply_receiver) = mpsc::sync_channel::<u32>(0);
    let echo = thread::spawn(move || {
        for value in request_receiver {
            reply_sender.send(value + 1).unwrap();
        }
    });
    let mut value = 0;
    for _ in 0..100 {
        request_sender.send(value).unwrap();
        value = reply_receiver.recv().unwrap();
    }
    drop(request_sender);
    let echo_result = echo.join();
    checks.check(
        value == 100 && echo_result.is_ok(),
        "rendezvous sync_channel ping-pong",
        || format!("expected 100, got {value}"),
    );
}

fn check_panics(checks: &mut Checks) {
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // the panics below are expected: keep stderr quiet
    let caught = panic::catch_unwind(|| {
        let values: Vec<u32> = Vec::new();
        values[3]
    });
    let in_thread = thread::spawn(|| -> u32 { panic!("expected panic in a thread") }).join();
    panic::set_hook(previous_hook);
    checks.check(caught.is_err(), "panic caught by catch_unwind", || {
        format!("got {caught:?}")
    });
    let message = in_thread
        .as_ref()
        .err()
        .and_then(|payload| payload.downcast_ref::<&str>().copied());
    checks.check(
        message == Some("expected panic in a thread"),
        "panic in a thread is returned by join",
        || format!("got {message:?}"),
    );
}

fn check_time(checks: &mut Checks) {
    let mut previous = Instant::now();
    let mut backwards = 0;
    for _ in 0..1000 {
        let now = Instant::now();
        backwards += usize::from(now < previous);
        previous = now;
    }
    checks.check(
        backwards == 0,
        "Instant never goes backwards over 1000 reads",
        || format!("{backwards} steps backwards"),
    );
    // On Septa the real-time clock may start at 1970 at boot: only its sanity is checked.
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
    checks.check(
        since_epoch.is_ok(),
        "SystemTime::now is not before UNIX_EPOCH",
        || format!("got {since_epoch:?}"),
    );
}

fn check_collections(checks: &mut Checks) {
    let mut squares: HashMap<u64, u64> = HashMap::new();
    for number in 0..1000 {
        squares.insert(number, number * number);
    }
    for number in (0..1000).step_by(2) {
        squares.remove(&number);
    }
    let hash_ok = squares.len() == 500
        && squares.get(&999) == Some(&998_001)
        && !squares.contains_key(&998)
        && squares.values().sum::<u64>() == (1..1000).step_by(2).map(|n: u64| n * n).sum();
    checks.check(hash_ok, "HashMap with RandomState", || {
        format!("{} entries", squares.len())
    });

    let mut words = BTreeMap::new();
    for word in ["pear", "apple", "fig", "banana", "cherry"] {
        words.insert(word, word.len());
    }
    let ordered: Vec<_> = words.keys().copied().collect();
    let middle: Vec<_> = words.range("b".."d").map(|(word, _)| *word).collect();
    checks.check(
        ordered == ["apple", "banana", "cherry", "fig", "pear"] && middle == ["banana", "cherry"],
        "BTreeMap order and range",
        || format!("got {ordered:?} and {middle:?}"),
    );

    let mut state = 12345_u32;
    let mut values: Vec<(u32, usize)> = (0..10_000)
        .map(|position| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((state >> 8) % 100, position)
        })
        .collect();
    values.sort_by_key(|&(key, _)| key); // stable: positions stay ascending within a key
    let stable = values
        .windows(2)
        .all(|pair| pair[0].0 < pair[1].0 || (pair[0].0 == pair[1].0 && pair[0].1 < pair[1].1));
    let mut unstable: Vec<u32> = values.iter().rev().map(|&(key, _)| key).collect();
    unstable.sort_unstable();
    checks.check(
        stable && unstable.windows(2).all(|pair| pair[0] <= pair[1]),
        "Vec sort is ordered and stable",
        || format!("stable {stable}"),
    );

    let text = format!(
        "{:>8.3}|{:<5}|{:#x}|{:08b}|{:e}|{:?}",
        1.23456, "ab", 255, 5, 1234.5, "q\""
    );
    let expected = "   1.235|ab   |0xff|00000101|1.2345e3|\"q\\\"\"";
    checks.check(text == expected, "String formatting", || {
        format!("expected {expected}, got {text}")
    });
    let parsed = "3.25".parse::<f64>().ok().zip("-17".parse::<i32>().ok());
    checks.check(parsed == Some((3.25, -17)), "parsing numbers", || {
        format!("got {parsed:?}")
    });
}

fn main() {
    let mut checks = Checks::new();
    check_environment(&mut checks);
    check_threads(&mut checks);
    check_thread_services(&mut checks);
    check_panics(&mut checks);
    check_time(&mut checks);
    check_collections(&mut checks);
    let written = writeln!(io::stderr(), "{PROGRAM}: this line goes to stderr");
    checks.check(written.is_ok(), "writing to stderr", || {
        format!("got {written:?}")
    });
    checks.finish();
}
