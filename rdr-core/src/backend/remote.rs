//! What the remote stores share: [`Remote`] (an operator with deadlines
//! and retries on a runtime of its own), credentials kept as [`Secret`],
//! and the HTTP transport.

use std::time::Duration;

use opendal::blocking::Operator;
use opendal::layers::TimeoutLayer;

use super::opendal_ops::{OnOperator, WriteMode, blocking_on, runtime};
use super::{BackendError, BackendResult};

/// A credential: zeroized when dropped, and shown as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) struct Secret(zeroize::Zeroizing<String>);

#[cfg_attr(not(feature = "http"), allow(dead_code))]
impl Secret {
    pub(crate) fn new(s: String) -> Self {
        Self(zeroize::Zeroizing::new(s))
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Deadline of one request attempt without progress (retries follow).
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Deadline of one whole operation attempt (a 16 MiB pack on a slow link).
const OP_TIMEOUT: Duration = Duration::from_secs(600);

/// The layers of a remote store: deadlines under the retries, so a server
/// that stops answering fails the attempt instead of hanging.
fn with_deadlines(op: opendal::Operator) -> opendal::Operator {
    op.layer(
        TimeoutLayer::new()
            .with_timeout(OP_TIMEOUT)
            .with_io_timeout(IO_TIMEOUT),
    )
}

/// Installs the process-wide HTTP transport (rustls with ring) once.
#[cfg(feature = "http")]
pub(crate) fn install_http() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // another part of the process may have chosen a provider: keep it
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
    });
}

/// A remote store: an operator with deadlines and retries, its location
/// (for messages, never with credentials) and its [`WriteMode`].
///
/// Each has its own runtime, dropped with it: the connections' background
/// tasks end then, and with them what they hold (SFTP's `ssh` processes
/// are told to exit), instead of outliving the store.
pub(crate) struct Remote {
    // fields drop in order: the operator before its runtime
    op: Operator,
    location: String,
    mode: WriteMode,
    _runtime: tokio::runtime::Runtime,
}

impl Remote {
    /// Wraps a configured service (no request is made yet).
    ///
    /// # Errors
    /// [`BackendError::Setup`] when OpenDAL refuses the configuration.
    pub(crate) fn new<B: opendal::Builder>(
        builder: B,
        location: String,
        mode: WriteMode,
    ) -> BackendResult<Self> {
        let op = opendal::Operator::new(builder)
            .map_err(|e| BackendError::Setup(format!("{location}: {e}")))?;
        let rt = runtime()
            .map_err(|e| BackendError::Setup(format!("starting the storage runtime: {e}")))?;
        Ok(Self {
            op: blocking_on(with_deadlines(op), &rt)?,
            location,
            mode,
            _runtime: rt,
        })
    }
}

impl OnOperator for Remote {
    fn operator(&self) -> &Operator {
        &self.op
    }
    fn describe(&self) -> String {
        self.location.clone()
    }
    fn write_mode(&self) -> WriteMode {
        self.mode
    }
    fn stage_in_file(&self) -> bool {
        true
    }
}
