//! moto's S3 server (`moto_server`, in memory): unlike rclone's, it
//! enforces `If-None-Match: *`, so the tests can show what rdr does on a
//! server that refuses a second create by itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Server, free_port};

/// `moto_server` on 127.0.0.1 with one bucket. It accepts any credentials
/// (it checks no signature).
pub struct MotoServer {
    _server: Server,
    /// The port it listens on.
    pub port: u16,
    /// The bucket it serves.
    pub bucket: String,
}

fn moto_server() -> PathBuf {
    if let Some(p) = std::env::var_os("RDR_TEST_MOTO") {
        return PathBuf::from(p);
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/test-venv/bin/moto_server");
    assert!(
        venv.exists(),
        "moto_server is needed for the S3 tests: run scripts/test.sh (it installs the PyPI \
         package moto[server] into target/test-venv) or set RDR_TEST_MOTO"
    );
    venv
}

impl MotoServer {
    /// Starts a server and creates `bucket` on it.
    ///
    /// # Panics
    /// When moto is missing, does not start within 20 s, or refuses the
    /// bucket.
    #[must_use]
    pub fn start(bucket: &str) -> Self {
        let port = free_port();
        let mut cmd = Command::new(moto_server());
        cmd.args(["-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let server = Server::start("moto_server", cmd, port);
        // an unsigned PUT of the bucket: moto checks no signature
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto");
        write!(
            conn,
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        )
        .expect("send");
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "moto refused the bucket: {answer}"
        );
        Self {
            _server: server,
            port,
            bucket: bucket.to_owned(),
        }
    }

    /// The repository location `prefix` in the bucket.
    #[must_use]
    pub fn location(&self, prefix: &str) -> String {
        format!("s3:http://127.0.0.1:{}/{}/{prefix}", self.port, self.bucket)
    }

    /// Credentials for rdr (any are accepted).
    #[must_use]
    pub fn env(&self) -> [(&'static str, &'static str); 3] {
        [
            ("AWS_ACCESS_KEY_ID", "moto"),
            ("AWS_SECRET_ACCESS_KEY", "moto-secret"),
            ("AWS_REGION", "us-east-1"),
        ]
    }
}
