//! `rclone serve s3` over a temporary directory.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{Server, free_port, rclone};

/// Access key the test servers accept.
pub const ACCESS_KEY: &str = "rdrtestkey";
/// Secret key the test servers accept.
pub const SECRET_KEY: &str = "rdrtestsecret-0123456789";

/// `rclone serve s3` over a temporary directory, with one bucket.
pub struct S3Server {
    server: Option<Server>,
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
            server: None,
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
        let mut cmd = Command::new(rclone());
        cmd.args(["serve", "s3", "--addr"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--auth-key")
            .arg(format!("{ACCESS_KEY},{SECRET_KEY}"))
            .args(["--config", "/dev/null"])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.server = Some(Server::start("rclone serve s3", cmd, self.port));
    }

    /// Stops the server (its data stays).
    pub fn kill(&mut self) {
        self.server = None;
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
