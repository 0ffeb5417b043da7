//! Where log lines go: one shared buffer that a thread of its own writes out, so that no
//! socket task waits on a slow terminal, pipe or disk, and the hub's line per relayed
//! message costs an append under a lock rather than a system call or a thread wake-up.
//!
//! Owns the buffer, its writing thread and the count of lines dropped when the buffer is
//! full. Must not format lines (that is [`super::Line`]) or decide which events pass.
//!
//! Lines keep the order in which they were logged (they are appended under one lock). A
//! line waits at most [`FLUSH_EVERY`]; the guard [`Flush`] writes what is left when the
//! binary ends.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Longest a line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Bytes gathered that wake the writing thread before its time.
const WAKE_AT_BYTES: usize = 64 * 1024;
/// Bytes the buffer may hold while the output is slow; lines past it are dropped (and
/// counted) rather than the hub slowed or its memory grown.
const MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

/// The `MakeWriter` for `tracing-subscriber`: each line is appended to the shared buffer.
#[derive(Clone, Debug)]
pub struct Lines {
    shared: Arc<Shared>,
}

/// Ends the writing thread once everything buffered is written; hold it until `main`
/// returns.
#[must_use = "lines still buffered are lost when the guard is dropped at once"]
#[derive(Debug)]
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    buffer: Mutex<Vec<u8>>,
    wake: Condvar,
    ending: AtomicBool,
    dropped: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8]) {
        let mut buffer = self.lock();
        if buffer.len() + line.len() > MAX_BUFFERED_BYTES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was = buffer.len();
        buffer.extend_from_slice(line);
        if was < WAKE_AT_BYTES && buffer.len() >= WAKE_AT_BYTES {
            self.wake.notify_one();
        }
    }

    /// The writing thread: every [`FLUSH_EVERY`] (or sooner, once [`WAKE_AT_BYTES`]
    /// wait) takes the whole buffer and writes it in one go.
    fn write_out(&self, mut output: impl Write) {
        let mut spare = Vec::new();
        loop {
            let ending = {
                let buffer = self.lock();
                let (mut buffer, _) = self
                    .wake
                    .wait_timeout_while(buffer, FLUSH_EVERY, |buffer| {
                        buffer.len() < WAKE_AT_BYTES && !self.ending.load(Ordering::Acquire)
                    })
                    .unwrap_or_else(PoisonError::into_inner);
                std::mem::swap(&mut *buffer, &mut spare);
                self.ending.load(Ordering::Acquire)
            };
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let _ = writeln!(
                    spare,
                    "{dropped} log lines dropped: the log output was too slow"
                );
            }
            // Nothing else can be done with a failed log write: the line is gone.
            let _ = output.write_all(&spare).and_then(|()| output.flush());
            spare.clear();
            if ending {
                return;
            }
        }
    }
}

/// Lines written to `output` (stdout in the binary) by a thread of their own.
pub fn spawn(output: impl Write + Send + 'static) -> io::Result<(Lines, Flush)> {
    let shared = Arc::new(Shared::default());
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn({
            let shared = Arc::clone(&shared);
            move || shared.write_out(output)
        })?;
    Ok((
        Lines {
            shared: Arc::clone(&shared),
        },
        Flush {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.ending.store(true, Ordering::Release);
        // Taking the lock orders the flag before the thread's next check.
        drop(self.shared.lock());
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line on its way into the buffer.
#[derive(Debug)]
pub struct Append<'a> {
    shared: &'a Shared,
}

impl Write for Append<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.shared.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Append<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Append {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read while the writing thread holds the writer.
    #[derive(Clone, Default)]
    struct Output(Arc<Mutex<Vec<u8>>>);

    impl Write for Output {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Output {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn lines_come_out_in_order_within_the_flush_interval() {
        let output = Output::default();
        let (lines, _flush) = spawn(output.clone()).unwrap();
        for n in 0..1000 {
            writeln!(lines.make_writer(), "line {n}").unwrap();
        }
        std::thread::sleep(FLUSH_EVERY * 4);
        let text = output.text();
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(text, expected);
    }

    #[test]
    fn the_guard_writes_what_is_left() {
        let output = Output::default();
        let (lines, flush) = spawn(output.clone()).unwrap();
        lines.make_writer().write_all(b"last words\n").unwrap();
        drop(flush);
        assert_eq!(output.text(), "last words\n");
    }

    #[test]
    fn a_full_buffer_drops_lines_and_says_how_many() {
        let shared = Shared::default();
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_BUFFERED_BYTES / line.len() + 3) {
            shared.append(&line);
        }
        assert_eq!(shared.lock().len(), MAX_BUFFERED_BYTES);
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 3);
        shared.ending.store(true, Ordering::Release);
        let output = Output::default();
        shared.write_out(output.clone());
        assert!(
            output
                .text()
                .ends_with("3 log lines dropped: the log output was too slow\n")
        );
    }
}
