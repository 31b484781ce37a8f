//! The CLI's implementation of rdr-core's `Progress`: an indicatif bar on a
//! terminal, line-delimited JSON with `--json`, periodic lines with `-v`,
//! silence otherwise. Also turns SIGINT/SIGTERM into a clean cancel; a
//! second signal, or a cancel that has not ended the process within
//! [`CANCEL_GRACE`] (a thread blocked opening a FIFO, a hung server), exits
//! at once with 130. What is already stored stays valid: every write is
//! crash-safe, and the lock left behind is stale once this PID is gone.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rdr_core::ops::progress::{JsonProgress, Progress};

use crate::cli::OutputArgs;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A progress bar on stderr.
    Bar,
    /// JSON status lines on stdout.
    Json,
    /// A status line on stderr every few seconds.
    Lines,
    /// Nothing.
    Silent,
}

impl Mode {
    /// The mode for the output options.
    pub fn from(o: OutputArgs) -> Self {
        if o.json {
            Self::Json
        } else if o.quiet {
            Self::Silent
        } else if std::io::stderr().is_terminal() {
            Self::Bar
        } else if o.verbose {
            Self::Lines
        } else {
            Self::Silent
        }
    }
}

/// How long a cancelled command may take to end before it is ended.
pub const CANCEL_GRACE: Duration = Duration::from_millis(900);

/// The process's cancel flag, set by the first SIGINT or SIGTERM; the
/// signal thread is started on first use.
fn cancel_flag() -> Arc<AtomicBool> {
    static FLAG: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    Arc::clone(FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let sigs = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];
        if let Ok(mut signals) = signal_hook::iterator::Signals::new(sigs) {
            let f = Arc::clone(&flag);
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    if f.swap(true, Ordering::SeqCst) {
                        std::process::exit(130);
                    }
                    std::thread::spawn(|| {
                        std::thread::sleep(CANCEL_GRACE);
                        eprintln!("rdr: interrupted");
                        std::process::exit(130);
                    });
                }
            });
        }
        flag
    }))
}

/// Progress reporting for one command.
pub struct Reporter {
    mode: Mode,
    bar: Option<ProgressBar>,
    cancel: Arc<AtomicBool>,
    files: AtomicU64,
    bytes: AtomicU64,
    total_files: AtomicU64,
    total_bytes: AtomicU64,
    started: Instant,
    last: Mutex<Instant>,
    current: Mutex<String>,
    phase: Mutex<String>,
    warnings: AtomicU64,
    /// With `--json`: rdr-core's JSON events, printed to stdout.
    json: Option<JsonProgress>,
}

impl Reporter {
    /// A reporter; `what` names the operation in status lines.
    pub fn new(mode: Mode, what: &'static str) -> Self {
        let cancel = cancel_flag();
        let bar = (mode == Mode::Bar).then(|| {
            let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
            let style = ProgressStyle::with_template(
                "{spinner} {prefix} [{elapsed_precise}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            pb.set_style(style);
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        });
        let json = (mode == Mode::Json).then(|| {
            JsonProgress::new(
                what,
                Box::new(|v| {
                    let _ = writeln!(std::io::stdout().lock(), "{v}");
                }),
            )
            .with_cancel(Arc::clone(&cancel))
        });
        Self {
            json,
            mode,
            bar,
            cancel,
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            total_files: AtomicU64::new(0),
            total_bytes: AtomicU64::new(0),
            started: Instant::now(),
            last: Mutex::new(Instant::now()),
            current: Mutex::new(String::new()),
            phase: Mutex::new(String::new()),
            warnings: AtomicU64::new(0),
        }
    }

    /// The output mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Removes the bar before the summary is printed.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn status(&self) {
        {
            let mut last = self
                .last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.elapsed() < Duration::from_secs(5) {
                return;
            }
            *last = Instant::now();
        }
        let files = self.files.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        let tb = self.total_bytes.load(Ordering::Relaxed);
        let current = self.current.lock().map(|c| c.clone()).unwrap_or_default();
        let phase = self.phase.lock().map(|c| c.clone()).unwrap_or_default();
        let secs = self.started.elapsed().as_secs();
        if self.mode == Mode::Lines {
            eprintln!(
                "[{secs}s] {phase} {files} files, {} of {} {current}",
                crate::cmd::human_bytes(bytes),
                crate::cmd::human_bytes(tb)
            );
        }
    }
}

impl Progress for Reporter {
    fn wants_totals(&self) -> bool {
        self.mode != Mode::Silent
    }

    fn phase(&self, name: &str) {
        if let Some(j) = &self.json {
            return j.phase(name);
        }
        self.files.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.total_files.store(0, Ordering::Relaxed);
        self.total_bytes.store(0, Ordering::Relaxed);
        if let Ok(mut p) = self.phase.lock() {
            name.clone_into(&mut p);
        }
        if let Ok(mut c) = self.current.lock() {
            c.clear();
        }
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.set_position(0);
                    b.set_length(0);
                    b.set_prefix(name.to_owned());
                    b.set_message(String::new());
                }
            }
            Mode::Lines => eprintln!("[{}s] {name}", self.started.elapsed().as_secs()),
            Mode::Json | Mode::Silent => {}
        }
    }

    fn total(&self, files: u64, bytes: u64) {
        if let Some(j) = &self.json {
            return j.total(files, bytes);
        }
        self.total_files.store(files, Ordering::Relaxed);
        self.total_bytes.store(bytes, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(bytes);
        }
    }

    fn current(&self, path: &Path) {
        if let Some(j) = &self.json {
            return j.current(path);
        }
        if self.mode == Mode::Silent {
            return;
        }
        let shown = path.display().to_string();
        if let Some(b) = &self.bar {
            let files = self.files.load(Ordering::Relaxed);
            b.set_message(format!("{files} files {shown}"));
        }
        if let Ok(mut c) = self.current.lock() {
            *c = shown;
        }
    }

    fn advance(&self, files: u64, bytes: u64) {
        if let Some(j) = &self.json {
            return j.advance(files, bytes);
        }
        self.files.fetch_add(files, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(bytes);
            if files > 0 && self.total_bytes.load(Ordering::Relaxed) == 0 {
                let done = self.files.load(Ordering::Relaxed);
                let of = self.total_files.load(Ordering::Relaxed);
                b.set_message(format!("{done}/{of}"));
            }
        } else if self.mode == Mode::Lines {
            self.status();
        }
    }

    fn warning(&self, path: &Path, message: &str) {
        self.warnings.fetch_add(1, Ordering::Relaxed);
        if let Some(j) = &self.json {
            j.warning(path, message);
        } else if let Some(b) = &self.bar {
            b.suspend(|| eprintln!("warning: {}: {message}", path.display()));
        } else {
            eprintln!("warning: {}: {message}", path.display());
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}
