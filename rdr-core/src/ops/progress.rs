//! The progress trait that long operations report through. The CLI draws a
//! bar or prints the JSON events of [`JsonProgress`], the C ABI hands
//! those events to a callback; the library defaults to silence.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;

/// Receives progress of a backup, restore or dump. Every method has a no-op
/// default; implementations must be cheap (they are called per file and per
/// chunk) and thread-safe.
pub trait Progress: Send + Sync {
    /// Whether the operation should compute totals up front (a backup then
    /// runs a metadata-only scan beside the real work).
    fn wants_totals(&self) -> bool {
        false
    }
    /// A new phase of a multi-phase operation starts (`check`: index,
    /// packs, snapshots, trees, read-data; `drill`: load, restore, verify,
    /// health). Counters and totals start again from zero.
    fn phase(&self, _name: &str) {}
    /// Running totals of the work (cumulative values).
    fn total(&self, _files: u64, _bytes: u64) {}
    /// The entry now being worked on.
    fn current(&self, _path: &Path) {}
    /// Work done since the last call (increments).
    fn advance(&self, _files: u64, _bytes: u64) {}
    /// An entry that could not be processed; the operation continues.
    fn warning(&self, _path: &Path, _message: &str) {}
    /// Polled often; returning true stops the operation cleanly.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// Where [`JsonProgress`] sends each event.
pub type EventSink = Box<dyn Fn(&serde_json::Value) + Send + Sync>;

/// A [`Progress`] that turns an operation's progress into the JSON events
/// the CLI prints with `--json` and the C ABI hands to its callback, so
/// every front end reports the same facts:
///
/// - `{"message_type":"phase","operation","phase","seconds_elapsed"}` when
///   a phase starts;
/// - `{"message_type":"status","operation","phase","seconds_elapsed",
///   "percent_done","files_done","total_files","bytes_done","total_bytes",
///   "current_file"}` at most once per interval (default 1 s) while work
///   advances;
/// - `{"message_type":"warning","path","message"}` for each entry skipped.
///
/// The sink is called from the operation's worker threads, one call at a
/// time. Cancellation is a shared flag the caller sets from any thread.
pub struct JsonProgress {
    operation: String,
    sink: EventSink,
    cancel: Arc<AtomicBool>,
    interval: Duration,
    started: Instant,
    last: Mutex<Option<Instant>>,
    files: AtomicU64,
    bytes: AtomicU64,
    total_files: AtomicU64,
    total_bytes: AtomicU64,
    current: Mutex<String>,
    phase: Mutex<String>,
    warnings: AtomicU64,
}

impl JsonProgress {
    /// Events of `operation` ("backup", "restore", …) go to `sink`.
    pub fn new(operation: &str, sink: EventSink) -> Self {
        Self {
            operation: operation.to_owned(),
            sink,
            cancel: Arc::new(AtomicBool::new(false)),
            interval: Duration::from_secs(1),
            started: Instant::now(),
            last: Mutex::new(None),
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            total_files: AtomicU64::new(0),
            total_bytes: AtomicU64::new(0),
            current: Mutex::new(String::new()),
            phase: Mutex::new(String::new()),
            warnings: AtomicU64::new(0),
        }
    }

    /// Stops the operation once `flag` is set (by any thread).
    #[must_use]
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = flag;
        self
    }

    /// Status events at most once per `interval`.
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How many warnings were reported.
    pub fn warnings(&self) -> u64 {
        self.warnings.load(Ordering::Relaxed)
    }

    fn emit(&self, v: &serde_json::Value) {
        // the lock makes calls to the sink one at a time
        let _one = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        (self.sink)(v);
    }

    fn status(&self) {
        {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < self.interval) {
                return;
            }
            *last = Some(Instant::now());
        }
        let bytes = self.bytes.load(Ordering::Relaxed);
        let tb = self.total_bytes.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        let pct = if tb > 0 {
            (bytes as f64 / tb as f64).min(1.0)
        } else {
            0.0
        };
        let text = |m: &Mutex<String>| m.lock().map(|s| s.clone()).unwrap_or_default();
        self.emit(&json!({
            "message_type": "status",
            "operation": self.operation,
            "phase": text(&self.phase),
            "seconds_elapsed": self.started.elapsed().as_secs(),
            "percent_done": pct,
            "files_done": self.files.load(Ordering::Relaxed),
            "total_files": self.total_files.load(Ordering::Relaxed),
            "bytes_done": bytes,
            "total_bytes": tb,
            "current_file": text(&self.current),
        }));
    }
}

impl std::fmt::Debug for JsonProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonProgress")
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

impl Progress for JsonProgress {
    fn wants_totals(&self) -> bool {
        true
    }

    fn phase(&self, name: &str) {
        for c in [
            &self.files,
            &self.bytes,
            &self.total_files,
            &self.total_bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        if let Ok(mut p) = self.phase.lock() {
            name.clone_into(&mut p);
        }
        if let Ok(mut c) = self.current.lock() {
            c.clear();
        }
        self.emit(&json!({
            "message_type": "phase",
            "operation": self.operation,
            "phase": name,
            "seconds_elapsed": self.started.elapsed().as_secs(),
        }));
    }

    fn total(&self, files: u64, bytes: u64) {
        self.total_files.store(files, Ordering::Relaxed);
        self.total_bytes.store(bytes, Ordering::Relaxed);
    }

    fn current(&self, path: &Path) {
        if let Ok(mut c) = self.current.lock() {
            *c = path.display().to_string();
        }
    }

    fn advance(&self, files: u64, bytes: u64) {
        self.files.fetch_add(files, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.status();
    }

    fn warning(&self, path: &Path, message: &str) {
        self.warnings.fetch_add(1, Ordering::Relaxed);
        self.emit(&json!({
            "message_type": "warning",
            "path": path.display().to_string(),
            "message": message,
        }));
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_events_and_cancel() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let flag = Arc::new(AtomicBool::new(false));
        let p = JsonProgress::new(
            "backup",
            Box::new(move |v| s.lock().unwrap().push(v.clone())),
        )
        .with_cancel(Arc::clone(&flag))
        .with_interval(Duration::from_secs(3600));
        p.phase("scan");
        p.total(2, 100);
        p.current(Path::new("/a"));
        p.advance(1, 50);
        p.advance(1, 50); // within the interval: no second status
        p.warning(Path::new("/b"), "unreadable");
        let v = seen.lock().unwrap().clone();
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v[0]["message_type"], "phase");
        assert_eq!(v[1]["message_type"], "status");
        assert_eq!(v[1]["current_file"], "/a");
        assert_eq!(v[1]["percent_done"], 0.5);
        assert_eq!(v[2]["message_type"], "warning");
        assert_eq!(p.warnings(), 1);
        assert!(!p.is_cancelled());
        flag.store(true, Ordering::SeqCst);
        assert!(p.is_cancelled());
    }
}
