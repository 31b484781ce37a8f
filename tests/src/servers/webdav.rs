//! WebDAV servers on 127.0.0.1: nginx with its dav modules (Debian's
//! nginx-light and libnginx-mod-http-dav-ext), and `rclone serve webdav`.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Server, free_port, rclone};

/// Which WebDAV implementation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nginx,
    /// nginx refusing DELETE (403), as for a user who may not delete.
    NginxAppendOnly,
    Rclone,
}

/// A WebDAV server over a temporary directory.
pub struct WebDavServer {
    server: Option<Server>,
    kind: Kind,
    /// The port it listens on.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl WebDavServer {
    /// nginx with `dav_methods` and `dav_ext_methods`.
    ///
    /// # Panics
    /// When nginx or the dav-ext module is missing, or nginx does not start.
    #[must_use]
    pub fn nginx() -> Self {
        Self::start(Kind::Nginx)
    }

    /// nginx answering every DELETE with 403 Forbidden (`limit_except`):
    /// a WebDAV account that may add files but not delete them.
    ///
    /// # Panics
    /// As [`Self::nginx`].
    #[must_use]
    pub fn nginx_append_only() -> Self {
        Self::start(Kind::NginxAppendOnly)
    }

    /// `rclone serve webdav`.
    ///
    /// # Panics
    /// When rclone is missing or does not start.
    #[must_use]
    pub fn rclone() -> Self {
        Self::start(Kind::Rclone)
    }

    fn start(kind: Kind) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["root", "tmp", "logs"] {
            fs::create_dir(dir.path().join(sub)).expect("server dirs");
        }
        let mut s = Self {
            server: None,
            kind,
            port: free_port(),
            dir,
        };
        s.restart();
        s
    }

    fn nginx_command(&self) -> Command {
        let d = self.dir.path().display();
        // as root, the workers keep root's rights over the temporary
        // directory (the default, nobody, could not write there)
        let user = if Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
        {
            "user root root;"
        } else {
            ""
        };
        let deny = if self.kind == Kind::NginxAppendOnly {
            "limit_except GET PUT MKCOL COPY MOVE PROPFIND OPTIONS { deny all; }"
        } else {
            ""
        };
        let conf = format!(
            "load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;\n\
             {user} worker_processes 1; daemon off; pid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{ access_log {d}/logs/access.log; client_body_temp_path {d}/tmp;\n\
             client_max_body_size 0;\n\
             server {{ listen 127.0.0.1:{port};\n\
             location / {{ root {d}/root; dav_methods PUT DELETE MKCOL COPY MOVE;\n\
             dav_ext_methods PROPFIND OPTIONS; create_full_put_path on;\n\
             dav_access user:rw group:r all:r; {deny} }} }} }}\n",
            port = self.port
        );
        fs::write(self.dir.path().join("nginx.conf"), conf).expect("nginx.conf");
        let mut cmd = Command::new("/usr/sbin/nginx");
        cmd.arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .arg("-p")
            .arg(self.dir.path())
            .arg("-e")
            .arg(self.dir.path().join("logs/startup.log"));
        cmd
    }

    /// Starts the server again on the same port and data (after [`Self::kill`]).
    ///
    /// # Panics
    /// As the constructors.
    pub fn restart(&mut self) {
        let log = fs::File::create(self.dir.path().join("logs/server.log")).expect("log");
        let (what, mut cmd) = match self.kind {
            Kind::Nginx | Kind::NginxAppendOnly => ("nginx", self.nginx_command()),
            Kind::Rclone => {
                let mut cmd = Command::new(rclone());
                cmd.args(["serve", "webdav", "--addr"])
                    .arg(format!("127.0.0.1:{}", self.port))
                    .args(["--config", "/dev/null"])
                    .arg(self.dir.path().join("root"));
                ("rclone serve webdav", cmd)
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        self.server = Some(Server::start(what, cmd, self.port));
    }

    /// Stops the server (its data stays).
    pub fn kill(&mut self) {
        self.server = None;
    }

    /// The repository location `name` on the server.
    #[must_use]
    pub fn location(&self, name: &str) -> String {
        format!("webdav:http://127.0.0.1:{}/{name}", self.port)
    }

    /// The directory the server serves.
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}
