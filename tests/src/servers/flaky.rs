//! A proxy on 127.0.0.1 in front of an HTTP server that fails a share of
//! the requests, the way a struggling object store or a bad network does:
//! a `503 Slow Down` answer, a connection closed before any answer, or an
//! answer cut off in the middle of its body. The choice is a deterministic
//! function of the request's number, so a run can be repeated.
//!
//! The proxy handles one request per client connection: it forwards the
//! request head with `Connection: close`, then copies bytes both ways until
//! the server closes, so bodies of any framing pass through untouched.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How a request is failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Answered `503` without reaching the server.
    Unavailable,
    /// Closed without an answer.
    Reset,
    /// Forwarded, then the answer is cut after its first bytes.
    CutAnswer,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    failed: AtomicU64,
    stop: AtomicBool,
    /// Flip a byte of every pack upload's body.
    corrupt_packs: AtomicBool,
    /// Request heads (the request line, then the headers, one a line), in
    /// order of arrival.
    lines: std::sync::Mutex<Vec<String>>,
}

/// A proxy that fails about one request in `every`.
pub struct FlakyProxy {
    /// The port it listens on.
    pub port: u16,
    counts: Arc<Counts>,
}

impl FlakyProxy {
    /// Starts a proxy to `127.0.0.1:upstream` failing about one request in
    /// `every` (10 for 10%; 0 fails none, to count requests).
    ///
    /// # Panics
    /// When it cannot listen on 127.0.0.1.
    #[must_use]
    pub fn start(upstream: u16, every: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1");
        let port = listener.local_addr().expect("address").port();
        let counts = Arc::new(Counts::default());
        let c = Arc::clone(&counts);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if c.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let n = c.requests.fetch_add(1, Ordering::Relaxed);
                let fault = if every == 0 {
                    None
                } else {
                    fault_for(n, every)
                };
                if fault.is_some() {
                    c.failed.fetch_add(1, Ordering::Relaxed);
                }
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, fault, &c);
                });
            }
        });
        Self { port, counts }
    }

    /// A proxy that fails nothing but flips one byte of the body of every
    /// pack upload (`PUT .../data/...`), as a bad network card or a broken
    /// middlebox would.
    #[must_use]
    pub fn corrupting_pack_uploads(upstream: u16) -> Self {
        let p = Self::start(upstream, 0);
        p.counts.corrupt_packs.store(true, Ordering::Relaxed);
        p
    }

    /// Requests seen so far.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.counts.requests.load(Ordering::Relaxed)
    }

    /// The request heads seen so far (each starts with its request line,
    /// `GET /bucket/path HTTP/1.1`), and forgets them.
    #[must_use]
    pub fn take_lines(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .counts
                .lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Requests failed so far.
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.counts.stop.store(true, Ordering::Relaxed);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Request `n`'s fate: a hash of `n` picks about one in `every`, and which
/// fault.
fn fault_for(n: u64, every: u64) -> Option<Fault> {
    let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    if !x.is_multiple_of(every.max(1)) {
        return None;
    }
    Some(match (x / every.max(1)) % 3 {
        0 => Fault::Unavailable,
        1 => Fault::Reset,
        _ => Fault::CutAnswer,
    })
}

fn serve(client: TcpStream, upstream: u16, fault: Option<Fault>, c: &Counts) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    // the request head, with Connection: close
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let end = line == "\r\n" || line == "\n";
        if end && let Ok(mut lines) = c.lines.lock() {
            lines.push(String::from_utf8_lossy(&head).replace("\r\n", "\n"));
        }
        let lower = line.to_ascii_lowercase();
        if !lower.starts_with("connection:") && !end {
            head.extend_from_slice(line.as_bytes());
        }
        if end {
            head.extend_from_slice(b"Connection: close\r\n\r\n");
            break;
        }
    }
    let mut client = client;
    match fault {
        Some(Fault::Unavailable) => {
            client.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return client.shutdown(Shutdown::Both);
        }
        Some(Fault::Reset) => return client.shutdown(Shutdown::Both),
        _ => {}
    }
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(&head)?;
    // whatever of the body the reader already buffered, then the rest
    let mut buffered = reader.buffer().to_vec();
    if c.corrupt_packs.load(Ordering::Relaxed)
        && head.starts_with(b"PUT ")
        && head.windows(6).any(|w| w == b"/data/")
    {
        if buffered.is_empty() {
            let mut one = [0u8; 1];
            client.read_exact(&mut one)?;
            buffered.push(one[0]);
        }
        buffered[0] ^= 0x01;
    }
    server.write_all(&buffered)?;
    let mut to_server = server.try_clone()?;
    let mut from_client = client.try_clone()?;
    std::thread::spawn(move || {
        let _ = io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let limit = if fault == Some(Fault::CutAnswer) {
        // the status line and part of the headers or body
        200
    } else {
        u64::MAX
    };
    let _ = io::copy(&mut (&mut server).take(limit), &mut client);
    let _ = server.shutdown(Shutdown::Both);
    client.shutdown(Shutdown::Both)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_one_request_in_ten_fails_in_every_way() {
        let faults: Vec<Fault> = (0..10_000).filter_map(|n| fault_for(n, 10)).collect();
        assert!((800..1200).contains(&faults.len()), "{}", faults.len());
        for f in [Fault::Unavailable, Fault::Reset, Fault::CutAnswer] {
            assert!(faults.iter().filter(|x| **x == f).count() > 200, "{f:?}");
        }
    }
}
