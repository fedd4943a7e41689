//! A TCP fault proxy: relays connections to an upstream (a mock, or the plain side
//! of a [`crate::tls::TlsFront`]) and breaks them on cue, with the faults an HTTP
//! mock cannot produce because they happen below HTTP: a host that accepts and then
//! hangs, a connection reset before or in the middle of an answer, an answer cut
//! short by a close. Behind a TLS front, a reset becomes a TLS connection closed
//! without `close_notify`.
//!
//! The proxy reads HTTP/1.1 requests on the client side (head plus `Content-Length`
//! body) so that a fault can target one request by a text in its head (method,
//! path, headers); answers are relayed as raw bytes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do to a request (or, for [`Cut::Stall`], to a connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Accept the connection and never read from it nor answer: a wedged service.
    /// Applies to the next connection, whatever its requests.
    Stall,
    /// Read the request, never forward it nor answer; the connection stays open.
    Hang,
    /// Forward the request and relay nothing more: the server acted, its answer
    /// never comes; the connection stays open.
    HangForwarded,
    /// Read the request and reset the connection: the server never saw it.
    ResetUnsent,
    /// Forward the request, then reset before any byte of the answer: the server
    /// acted, the client never learns the outcome.
    ResetUnanswered,
    /// Forward the request, relay this many bytes of the answer, then reset.
    ResetAfter(usize),
    /// Forward the request, relay this many bytes of the answer, then close (FIN):
    /// an answer shorter than its `Content-Length`.
    CloseAfter(usize),
}

/// A fault waiting for its request.
#[derive(Debug, Clone)]
struct Rule {
    /// Text the request head must contain ("" matches every request).
    contains: String,
    /// Matching requests let through before the fault applies.
    skip: usize,
    cut: Cut,
    times: usize,
}

/// Counters.
#[derive(Debug, Default, Clone)]
pub struct ProxyStats {
    pub connections: usize,
    /// Complete requests read from clients.
    pub requests: usize,
    /// Faults applied, as `(cut, first line of the request)`.
    pub applied: Vec<(Cut, String)>,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    stats: ProxyStats,
}

/// A running fault proxy.
pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl FaultProxy {
    /// Listens on a random loopback port and relays to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let stall = {
                        let mut g = lock(&s);
                        g.stats.connections += 1;
                        take(&mut g, |r| r.cut == Cut::Stall).is_some()
                    };
                    if stall {
                        // Hold the socket, read nothing, until the client gives up.
                        let _keep = client;
                        std::future::pending::<()>().await;
                        return;
                    }
                    let _ = relay(client, upstream, s).await;
                });
            }
        });
        Ok(FaultProxy { addr, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Applies `cut` to the next `times` requests whose head contains `contains`
    /// ("" for any). [`Cut::Stall`] applies to the next `times` connections.
    pub fn inject(&self, contains: &str, cut: Cut, times: usize) {
        self.inject_after(contains, 0, cut, times);
    }

    /// Like [`FaultProxy::inject`], after letting `skip` matching requests through:
    /// targets the n-th request of an exchange whose requests look alike (WinRM's
    /// are all `POST /wsman`, their bodies sealed).
    pub fn inject_after(&self, contains: &str, skip: usize, cut: Cut, times: usize) {
        lock(&self.shared).rules.push(Rule { contains: contains.into(), skip, cut, times });
    }

    /// Removes every fault not yet used.
    pub fn clear(&self) {
        lock(&self.shared).rules.clear();
    }

    pub fn stats(&self) -> ProxyStats {
        lock(&self.shared).stats.clone()
    }
}

fn lock(s: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Uses up one application of the first rule matching `pred`.
fn take(s: &mut Shared, pred: impl Fn(&Rule) -> bool) -> Option<Cut> {
    let i = s.rules.iter().position(|r| r.times > 0 && pred(r))?;
    if s.rules[i].skip > 0 {
        s.rules[i].skip -= 1;
        return None;
    }
    s.rules[i].times -= 1;
    let cut = s.rules[i].cut;
    if s.rules[i].times == 0 {
        s.rules.remove(i);
    }
    Some(cut)
}

/// The length of the first complete request in `buf` and its head, if complete.
/// Requests without `Content-Length` have no body (chunked requests are not used
/// by csx's clients; they are relayed as if bodiless).
fn complete_request(buf: &[u8]) -> Option<(usize, String)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= end + length).then_some((end + length, head))
}

/// How the answer to the current request is to be cut.
#[derive(Clone, Copy)]
struct Armed {
    left: usize,
    reset: bool,
}

fn reset(stream: TcpStream) {
    // SO_LINGER 0: closing sends RST instead of FIN.
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, shared: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream).await?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut pending: Vec<u8> = Vec::new();
    let mut armed: Option<Armed> = None;
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    loop {
        // Which side spoke; the read futures are gone before the streams are used again.
        let (from_client, n) = tokio::select! {
            n = client.read(&mut up) => (true, n?),
            n = server.read(&mut down) => (false, n?),
        };
        if from_client {
            if n == 0 {
                let _ = server.shutdown().await;
                // Let the rest of the answer through.
                tokio::io::copy(&mut server, &mut client).await?;
                return Ok(());
            }
            pending.extend_from_slice(&up[..n]);
            while let Some((len, head)) = complete_request(&pending) {
                let request: Vec<u8> = pending.drain(..len).collect();
                let cut = {
                    let mut g = lock(&shared);
                    g.stats.requests += 1;
                    let cut = take(&mut g, |r| r.cut != Cut::Stall && head.contains(&r.contains));
                    if let Some(c) = cut {
                        g.stats.applied.push((c, head.lines().next().unwrap_or("").to_string()));
                    }
                    cut
                };
                match cut {
                    // `take` never selects a Stall rule for a request.
                    None | Some(Cut::Stall) => server.write_all(&request).await?,
                    Some(Cut::Hang) => {
                        // Keep the connection open, answer nothing, until the client leaves.
                        drop(server);
                        while client.read(&mut up).await.unwrap_or(0) > 0 {}
                        return Ok(());
                    }
                    Some(Cut::HangForwarded) => {
                        server.write_all(&request).await?;
                        while client.read(&mut up).await.unwrap_or(0) > 0 {}
                        return Ok(());
                    }
                    Some(Cut::ResetUnsent) => {
                        reset(client);
                        return Ok(());
                    }
                    Some(Cut::ResetUnanswered) => {
                        server.write_all(&request).await?;
                        // Let the server take the request in before the client is cut off.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        reset(client);
                        return Ok(());
                    }
                    Some(Cut::ResetAfter(n)) => {
                        server.write_all(&request).await?;
                        armed = Some(Armed { left: n, reset: true });
                    }
                    Some(Cut::CloseAfter(n)) => {
                        server.write_all(&request).await?;
                        armed = Some(Armed { left: n, reset: false });
                    }
                }
            }
            continue;
        }
        if n == 0 {
            let _ = client.shutdown().await;
            return Ok(());
        }
        let Some(a) = armed.as_mut() else {
            client.write_all(&down[..n]).await?;
            continue;
        };
        let pass = n.min(a.left);
        client.write_all(&down[..pass]).await?;
        a.left -= pass;
        if a.left == 0 {
            client.flush().await?;
            if a.reset {
                reset(client);
            } else {
                client.shutdown().await?;
            }
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_framed_by_content_length() {
        assert_eq!(complete_request(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        let get = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST";
        assert_eq!(complete_request(get).map(|(n, _)| n), Some(get.len() - 4));
        let post = b"POST /b HTTP/1.1\r\ncontent-length: 3\r\n\r\nab";
        assert_eq!(complete_request(post), None);
        let post = b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET";
        assert_eq!(complete_request(post).map(|(n, h)| (n, h.starts_with("POST /b"))), Some((post.len() - 3, true)));
    }
}
