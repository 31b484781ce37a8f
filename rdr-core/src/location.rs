//! Repository locations in restic's syntax: parsed once, printed the same
//! way everywhere, and never mistaken for a local path when they look
//! remote. Pure code: turning a location into storage is
//! [`crate::Storage::connect`].
//!
//! Credentials never belong in a location (they would end up in shell
//! history, process lists and logs): a location with a password in it is
//! refused, and errors never repeat the text they were given.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where a repository lives, written in restic's syntax:
///
/// | form | meaning |
/// |---|---|
/// | `PATH`, `local:PATH` | a local directory |
/// | `s3:BUCKET[/PREFIX]` | AWS S3 (restic's `s3:s3.amazonaws.com/BUCKET` too) |
/// | `s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]` | an S3-compatible server |
/// | `sftp:[USER@]HOST:PATH` | SFTP, port and keys from the OpenSSH config |
/// | `sftp://[USER@]HOST[:PORT]/PATH` | SFTP; `//srv/repo` is the absolute path `/srv/repo` |
/// | `webdav:http[s]://HOST[:PORT]/PATH` | WebDAV |
/// | `azure:CONTAINER:/PATH` | Azure Blob storage |
/// | `gs:BUCKET:/PATH` | Google Cloud Storage |
/// | `b2:BUCKET:PATH` | Backblaze B2 (native API) |
///
/// A known remote scheme, or any `scheme://`, is never taken as a local
/// path (`./s3:x` is one). A location holding a password is refused; so
/// that a password with an unencoded `/` cannot slip into a path, `@` is
/// refused anywhere in an `http(s)://` form, and after the host of an
/// `sftp://` form with a port. Printing then parsing gives the same
/// location, except for an SFTP path holding `@` with a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Location {
    /// A local directory.
    Local {
        /// The directory.
        path: PathBuf,
    },
    /// S3-compatible object storage.
    S3 {
        /// The server; `None` is AWS (region from the environment).
        endpoint: Option<Endpoint>,
        /// The bucket.
        bucket: String,
        /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
        prefix: String,
    },
    /// An SFTP server.
    Sftp {
        /// Login name; `None` takes it from the OpenSSH config.
        user: Option<String>,
        /// Host name, OpenSSH alias or address (IPv6 without brackets).
        host: String,
        /// Port; `None` takes it from the OpenSSH config.
        port: Option<u16>,
        /// Directory: absolute when it starts with `/`, else relative to the login directory.
        path: String,
    },
    /// A WebDAV server.
    WebDav {
        /// The server.
        endpoint: Endpoint,
        /// Collection path, without leading or trailing `/` (may be empty).
        path: String,
    },
    /// Azure Blob storage.
    Azure {
        /// The container.
        container: String,
        /// Path inside it, without leading or trailing `/` (may be empty).
        path: String,
    },
    /// Google Cloud Storage.
    Gcs {
        /// The bucket.
        bucket: String,
        /// Path inside it, without leading or trailing `/` (may be empty).
        path: String,
    },
    /// Backblaze B2 through its native API.
    B2 {
        /// The bucket.
        bucket: String,
        /// Path inside it, without leading or trailing `/` (may be empty).
        path: String,
    },
}

/// An HTTP(S) server: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `https` when true, `http` when false.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port; `None` is the scheme's default.
    pub port: Option<u16>,
}

/// Why a location does not parse. Messages never repeat the location, which
/// may hold a secret someone pasted by mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// The location is empty.
    #[error("empty repository location")]
    Empty,
    /// A scheme rdr does not know (`rest:`, `rclone:`, `ftp://`, ...).
    #[error(
        "unknown repository location scheme {0:?} (use ./{0}:... for a local directory of that name)"
    )]
    UnknownScheme(String),
    /// The location holds a password or other credential.
    #[error("{scheme} location contains credentials")]
    Credentials {
        /// The location's scheme.
        scheme: &'static str,
    },
    /// The location is malformed.
    #[error("{scheme} location: {problem} (expected {expected})")]
    Malformed {
        /// The location's scheme.
        scheme: &'static str,
        /// What is wrong.
        problem: &'static str,
        /// The syntax of that scheme.
        expected: &'static str,
    },
}

const S3_SYNTAX: &str = "s3:BUCKET[/PREFIX] or s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]";
const SFTP_SYNTAX: &str = "sftp:[USER@]HOST:PATH or sftp://[USER@]HOST[:PORT]/PATH";
const WEBDAV_SYNTAX: &str = "webdav:http[s]://HOST[:PORT]/PATH";
const AZURE_SYNTAX: &str = "azure:CONTAINER:/PATH";
const GS_SYNTAX: &str = "gs:BUCKET:/PATH";
const B2_SYNTAX: &str = "b2:BUCKET:PATH";

/// Schemes of other tools that rdr refuses rather than take as a directory name.
const FOREIGN_SCHEMES: [&str; 6] = ["rest", "rclone", "swift", "smb", "ftp", "file"];

impl Location {
    /// Parses a location (the syntax is in the [`Location`] docs).
    ///
    /// # Errors
    /// [`LocationError`] naming the scheme and what is wrong.
    pub fn parse(s: &str) -> Result<Self, LocationError> {
        if s.is_empty() {
            return Err(LocationError::Empty);
        }
        if let Some(path) = s.strip_prefix("local:") {
            if path.is_empty() {
                return Err(LocationError::Empty);
            }
            return Ok(Self::local(path));
        }
        let Some((scheme, rest)) = split_scheme(s) else {
            return Ok(Self::local(s));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "s3" => parse_s3(rest),
            "sftp" => parse_sftp(rest),
            "webdav" => parse_webdav(rest),
            "azure" => parse_bucket_path(rest, "azure", AZURE_SYNTAX)
                .map(|(container, path)| Self::Azure { container, path }),
            "gs" => parse_bucket_path(rest, "gs", GS_SYNTAX)
                .map(|(bucket, path)| Self::Gcs { bucket, path }),
            "b2" => parse_bucket_path(rest, "b2", B2_SYNTAX)
                .map(|(bucket, path)| Self::B2 { bucket, path }),
            other if FOREIGN_SCHEMES.contains(&other) || rest.starts_with("//") => {
                Err(LocationError::UnknownScheme(other.to_owned()))
            }
            _ => Ok(Self::local(s)),
        }
    }

    /// A local directory.
    #[must_use]
    pub fn local(path: impl Into<PathBuf>) -> Self {
        Self::Local { path: path.into() }
    }

    /// The scheme: `local`, `s3`, `sftp`, `webdav`, `azure`, `gs` or `b2`.
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Local { .. } => "local",
            Self::S3 { .. } => "s3",
            Self::Sftp { .. } => "sftp",
            Self::WebDav { .. } => "webdav",
            Self::Azure { .. } => "azure",
            Self::Gcs { .. } => "gs",
            Self::B2 { .. } => "b2",
        }
    }

    /// The directory of a local location.
    #[must_use]
    pub fn as_local_path(&self) -> Option<&Path> {
        match self {
            Self::Local { path } => Some(path),
            _ => None,
        }
    }
}

impl FromStr for Location {
    type Err = LocationError;
    fn from_str(s: &str) -> Result<Self, LocationError> {
        Self::parse(s)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { path } => {
                let text = path.to_string_lossy();
                let plain = matches!(Self::parse(&text), Ok(Self::Local { path: p }) if p == *path);
                if plain {
                    f.write_str(&text)
                } else {
                    write!(f, "local:{text}")
                }
            }
            Self::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                match endpoint {
                    Some(e) => write!(f, "s3:{e}/{bucket}")?,
                    None if host_like(bucket) => write!(f, "s3:{AWS_HOST}/{bucket}")?,
                    None => write!(f, "s3:{bucket}")?,
                }
                if !prefix.is_empty() {
                    write!(f, "/{prefix}")?;
                }
                Ok(())
            }
            Self::Sftp {
                user,
                host,
                port,
                path,
            } => {
                let user = user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
                let host = bracket(host);
                match port {
                    Some(p) => write!(f, "sftp://{user}{host}:{p}/{path}"),
                    None if user.is_empty() && path.contains('@') => {
                        write!(f, "sftp://{host}/{path}")
                    }
                    None => write!(f, "sftp:{user}{host}:{path}"),
                }
            }
            Self::WebDav { endpoint, path } => write!(f, "webdav:{endpoint}/{path}"),
            Self::Azure { container, path } => write!(f, "azure:{container}:/{path}"),
            Self::Gcs { bucket, path } => write!(f, "gs:{bucket}:/{path}"),
            Self::B2 { bucket, path } => write!(f, "b2:{bucket}:{path}"),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}", bracket(&self.host))?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// AWS's global S3 host, which restic writes before the bucket.
const AWS_HOST: &str = "s3.amazonaws.com";

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `scheme:rest` when `s` starts with something shaped like a URL scheme.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    let shaped = first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    shaped.then_some((scheme, rest))
}

/// A first path segment of an `s3:` location that names a server, not a bucket.
fn host_like(segment: &str) -> bool {
    segment.contains(':') || segment.ends_with(".amazonaws.com") || segment.starts_with('[')
}

fn malformed(scheme: &'static str, problem: &'static str, expected: &'static str) -> LocationError {
    LocationError::Malformed {
        scheme,
        problem,
        expected,
    }
}

/// Splits `http[s]://AUTHORITY/PATH` into the endpoint and the path after
/// the first `/`. Any user information is refused as a credential.
fn parse_url<'a>(
    rest: &'a str,
    scheme: &'static str,
    expected: &'static str,
) -> Result<(Endpoint, &'a str), LocationError> {
    let (tls, after) = if let Some(a) = rest.strip_prefix("https://") {
        (true, a)
    } else if let Some(a) = rest.strip_prefix("http://") {
        (false, a)
    } else {
        return Err(malformed(
            scheme,
            "not an http:// or https:// URL",
            expected,
        ));
    };
    // `user:pass@` has no place here, and a password holding an unencoded
    // `/` would otherwise end the authority early and land in the path:
    // an `@` anywhere is refused.
    if after.contains('@') {
        return Err(LocationError::Credentials { scheme });
    }
    let (authority, path) = after.split_once('/').unwrap_or((after, ""));
    let (host, port) = parse_host_port(authority, scheme, expected)?;
    Ok((Endpoint { tls, host, port }, path))
}

/// `HOST[:PORT]` or `[V6]:PORT`.
fn parse_host_port(
    s: &str,
    scheme: &'static str,
    expected: &'static str,
) -> Result<(String, Option<u16>), LocationError> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| malformed(scheme, "unclosed [ in the host", expected))?;
        if !host.contains(':')
            || !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(malformed(scheme, "not an IPv6 address in [ ]", expected));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| malformed(scheme, "text after the ] of the host", expected))?,
            ),
        };
        (host, port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    check_host(host, scheme, expected)?;
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(malformed(
                scheme,
                "the port is not a number from 1 to 65535",
                expected,
            )),
        })
        .transpose()?;
    Ok((host.to_owned(), port))
}

fn check_host(
    host: &str,
    scheme: &'static str,
    expected: &'static str,
) -> Result<(), LocationError> {
    if host.is_empty() {
        return Err(malformed(scheme, "no host", expected));
    }
    let ok = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
    if ok {
        Ok(())
    } else {
        Err(malformed(scheme, "invalid character in the host", expected))
    }
}

/// A bucket or container name: letters, digits, `.`, `-`, `_`.
fn check_bucket(
    b: &str,
    scheme: &'static str,
    expected: &'static str,
) -> Result<(), LocationError> {
    if b.is_empty() {
        return Err(malformed(scheme, "no bucket", expected));
    }
    let ok = b.len() <= 255
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'));
    if ok {
        Ok(())
    } else {
        Err(malformed(scheme, "invalid bucket name", expected))
    }
}

/// A path inside a bucket: no control characters; slashes at the ends dropped.
fn clean_path(
    p: &str,
    scheme: &'static str,
    expected: &'static str,
) -> Result<String, LocationError> {
    if p.chars().any(char::is_control) {
        return Err(malformed(scheme, "control character in the path", expected));
    }
    Ok(p.trim_matches('/').to_owned())
}

fn parse_s3(rest: &str) -> Result<Location, LocationError> {
    let e = S3_SYNTAX;
    let (endpoint, path) = if rest.starts_with("http://") || rest.starts_with("https://") {
        let (ep, path) = parse_url(rest, "s3", e)?;
        (Some(ep), path)
    } else {
        let (first, after) = rest.split_once('/').unwrap_or((rest, ""));
        // as in the URL form (which this prints as when it has an
        // endpoint): an `@` anywhere may be a password split at a `/`
        if rest.contains('@') {
            return Err(LocationError::Credentials { scheme: "s3" });
        }
        if first == AWS_HOST {
            (None, after)
        } else if host_like(first) {
            let (host, port) = parse_host_port(first, "s3", e)?;
            (
                Some(Endpoint {
                    tls: true,
                    host,
                    port,
                }),
                after,
            )
        } else {
            (None, rest)
        }
    };
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    check_bucket(bucket, "s3", e)?;
    Ok(Location::S3 {
        endpoint,
        bucket: bucket.to_owned(),
        prefix: clean_path(prefix, "s3", e)?,
    })
}

fn parse_sftp(rest: &str) -> Result<Location, LocationError> {
    let e = SFTP_SYNTAX;
    let (userhost, port, path) = if let Some(url) = rest.strip_prefix("//") {
        let (authority, path) = url
            .split_once('/')
            .ok_or_else(|| malformed("sftp", "no path", e))?;
        // `user:pa/ss@host` splits at the `/`: `user:pa` looks like a host
        // and a port, and the password would land in the path
        // (a bracketed IPv6 host is not such a user)
        if !authority.contains('@')
            && !authority.starts_with('[')
            && authority.contains(':')
            && path.contains('@')
        {
            return Err(LocationError::Credentials { scheme: "sftp" });
        }
        let (user, hostport) = split_user(authority)?;
        let (host, port) = parse_host_port(hostport, "sftp", e)?;
        ((user, host), port, path)
    } else {
        // `user:pass@host:path`, even with a `/` in the password
        if let Some((before, after)) = rest.split_once('@')
            && before.contains(':')
            && after.contains(':')
        {
            return Err(LocationError::Credentials { scheme: "sftp" });
        }
        let (user, hostpath) = match rest.split_once('@') {
            Some((u, hp)) if !u.contains('/') && !u.contains('[') => (Some(u), hp),
            _ => (None, rest),
        };
        if user.is_some_and(|u| u.contains(':')) {
            return Err(LocationError::Credentials { scheme: "sftp" });
        }
        let (host, path) = if let Some(inner) = hostpath.strip_prefix('[') {
            let (h, after) = inner
                .split_once("]:")
                .ok_or_else(|| malformed("sftp", "no : after the [host]", e))?;
            (format!("[{h}]"), after)
        } else {
            let (h, p) = hostpath
                .split_once(':')
                .ok_or_else(|| malformed("sftp", "no : between host and path", e))?;
            (h.to_owned(), p)
        };
        let (host, port) = parse_host_port(&host, "sftp", e)?;
        if port.is_some() {
            return Err(malformed("sftp", "a port needs the sftp:// form", e));
        }
        ((user.map(str::to_owned), host), None, path)
    };
    let (user, host) = userhost;
    if let Some(u) = &user
        && (u.is_empty()
            || u.chars()
                .any(|c| c.is_control() || matches!(c, '/' | '@' | ':' | '[' | ']')))
    {
        return Err(malformed("sftp", "invalid user name", e));
    }
    if path.is_empty() || path.chars().any(char::is_control) {
        return Err(malformed(
            "sftp",
            "no path, or a control character in it",
            e,
        ));
    }
    let trimmed = path.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed };
    Ok(Location::Sftp {
        user,
        host,
        port,
        path: path.to_owned(),
    })
}

/// `[USER@]HOSTPORT` of an `sftp://` URL; a password is refused.
fn split_user(authority: &str) -> Result<(Option<String>, &str), LocationError> {
    match authority.rsplit_once('@') {
        Some((u, _)) if u.contains(':') => Err(LocationError::Credentials { scheme: "sftp" }),
        Some((u, hp)) => Ok((Some(u.to_owned()), hp)),
        None => Ok((None, authority)),
    }
}

fn parse_webdav(rest: &str) -> Result<Location, LocationError> {
    let (endpoint, path) = parse_url(rest, "webdav", WEBDAV_SYNTAX)?;
    Ok(Location::WebDav {
        endpoint,
        path: clean_path(path, "webdav", WEBDAV_SYNTAX)?,
    })
}

/// `BUCKET:PATH` of `azure:`, `gs:` and `b2:`.
fn parse_bucket_path(
    rest: &str,
    scheme: &'static str,
    expected: &'static str,
) -> Result<(String, String), LocationError> {
    let (bucket, path) = rest
        .split_once(':')
        .ok_or_else(|| malformed(scheme, "no : after the bucket", expected))?;
    if bucket.contains('@') {
        return Err(LocationError::Credentials { scheme });
    }
    check_bucket(bucket, scheme, expected)?;
    Ok((bucket.to_owned(), clean_path(path, scheme, expected)?))
}

#[cfg(test)]
#[path = "location_tests.rs"]
mod tests;
