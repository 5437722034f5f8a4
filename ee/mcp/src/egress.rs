//! Requests to identity providers (OpenID discovery, JWKS).
//!
//! - Only public addresses are reached (loopback too with `--allow-insecure-idp-urls`): host names
//!   are judged by the client's resolver, and reqwest connects only to the addresses it returns,
//!   so the address checked is the address used. IP literals never reach a resolver and are
//!   judged before the request.
//! - No redirects, no proxies (a proxy would connect to addresses never checked here), 5 s for the
//!   whole exchange, bodies up to 1 MiB.
//! - A failure is named by its class, never by what the upstream said.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use url::Url;

pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a request to an identity provider failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not valid")]
    BadUrl,
    #[error("the host name could not be resolved")]
    Unresolved,
    #[error(
        "the host is or resolves only to addresses this server may not reach (private, loopback, link-local or otherwise not public)"
    )]
    NotPublic,
    #[error("the request timed out")]
    Timeout,
    #[error("the connection failed")]
    Connect,
    #[error("the TLS handshake failed")]
    Tls,
    #[error("the exchange with the provider failed")]
    Exchange,
    #[error("the provider answered with a redirect, which is not followed")]
    Redirected,
    #[error("the provider answered with a client error status (4xx)")]
    ClientError,
    #[error("the provider answered with a server error status (5xx)")]
    ServerError,
    #[error("the provider answered with an unexpected status")]
    OddStatus,
    #[error("the answer is larger than 1 MiB")]
    TooLarge,
    #[error("the answer is not {0}")]
    Malformed(&'static str),
    #[error("the HTTP client could not be set up")]
    NoClient,
}

/// Whether `ip` is on the public internet. IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 IPv6
/// addresses are judged as the IPv4 address they carry; any other IPv6 address must be global
/// unicast (2000::/3, which leaves out loopback, unspecified, unique-local, link-local and
/// multicast) outside its special-purpose blocks.
pub fn public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", unspecified
        || a == 10 // private
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF protocol assignments, documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !special
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return public_v4(v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return public_v4(v4(s[1], s[2]));
    }
    s[0] & 0xe000 == 0x2000
        && !(s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments (Teredo, benchmarking, …)
        && !(s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        && !(s[0] == 0x3fff && s[1] < 0x1000) // documentation
}

/// Whether requests to identity providers may reach `ip`.
pub fn reachable(ip: IpAddr, allow_loopback: bool) -> bool {
    public(ip) || (allow_loopback && ip.to_canonical().is_loopback())
}

/// The URL's host when it is an IP address.
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Resolves host names to the addresses requests may reach, and fails when none remain.
#[derive(Debug)]
struct Resolver {
    allow_loopback: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await.map_err(|_| FetchError::Unresolved)?.collect();
            if found.is_empty() {
                return Err(FetchError::Unresolved.into());
            }
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| reachable(a.ip(), allow_loopback)).collect();
            if kept.is_empty() {
                return Err(FetchError::NotPublic.into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// A document fetched from an identity provider.
#[derive(Debug)]
pub struct Fetched {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The one HTTP client for identity providers.
#[derive(Debug, Clone)]
pub struct IdpClient {
    /// None when it could not be built: every request then fails rather than going out unguarded.
    http: Option<reqwest::Client>,
    allow_loopback: bool,
}

impl IdpClient {
    pub fn new(allow_loopback: bool) -> IdpClient {
        let built = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Resolver { allow_loopback })
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("alga-server/", env!("CARGO_PKG_VERSION")))
            .build();
        let http = match built {
            Ok(http) => Some(http),
            Err(e) => {
                tracing::error!(error = %e, "the HTTP client for identity providers could not be built");
                None
            }
        };
        IdpClient { http, allow_loopback }
    }

    /// GETs a JSON document; any status but 2xx is a failure.
    pub async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        let url = Url::parse(url).map_err(|_| FetchError::BadUrl)?;
        if literal_ip(&url).is_some_and(|ip| !reachable(ip, self.allow_loopback)) {
            return Err(FetchError::NotPublic);
        }
        let http = self.http.as_ref().ok_or(FetchError::NoClient)?;
        let mut response =
            http.get(url).header(reqwest::header::ACCEPT, "application/json").send().await.map_err(|e| classify(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(if status.is_redirection() {
                FetchError::Redirected
            } else if status.is_client_error() {
                FetchError::ClientError
            } else if status.is_server_error() {
                FetchError::ServerError
            } else {
                FetchError::OddStatus
            });
        }
        if response.content_length().is_some_and(|len| len > MAX_BODY as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { headers: response.headers().clone(), body })
    }
}

/// The class of a failed request: the resolver's own error when it refused, else what the error
/// chain shows.
fn classify(e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(ours) = err.downcast_ref::<FetchError>() {
            return *ours;
        }
        if err.is::<native_tls::Error>() {
            return FetchError::Tls;
        }
        source = err.source();
    }
    if e.is_connect() { FetchError::Connect } else { FetchError::Exchange }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for text in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:db8::1",
            "3fff::1",
        ] {
            assert!(!public(ip(text)), "{text} is not public");
        }
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(public(ip(text)), "{text} is public");
        }
        // Loopback, and only loopback, is reachable when allowed.
        assert!(reachable(ip("127.0.0.1"), true) && reachable(ip("::1"), true));
        assert!(reachable(ip("::ffff:127.0.0.1"), true));
        assert!(!reachable(ip("127.0.0.1"), false) && !reachable(ip("::1"), false));
        assert!(!reachable(ip("10.0.0.1"), true) && !reachable(ip("fe80::1"), true));
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_unless_allowed() {
        let refused = Resolver { allow_loopback: false }.resolve("localhost".parse().unwrap()).await;
        let refused = refused.err().unwrap();
        assert_eq!(refused.downcast_ref::<FetchError>(), Some(&FetchError::NotPublic));
        let allowed = Resolver { allow_loopback: true }.resolve("localhost".parse().unwrap()).await.unwrap();
        let allowed: Vec<SocketAddr> = allowed.collect();
        assert!(!allowed.is_empty() && allowed.iter().all(|a| a.ip().is_loopback()), "{allowed:?}");
    }

    /// A loopback server that reads one request and answers `response`; returns its URL.
    async fn answering(response: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(response).await;
                let _ = socket.shutdown().await;
            }
        });
        format!("http://{addr}/doc")
    }

    #[tokio::test]
    async fn failures_are_named_by_class_without_the_upstreams_words() {
        let client = IdpClient::new(true);
        let ok = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
        assert_eq!(client.get(&ok).await.unwrap().body, b"{}");
        let cases: [(&'static [u8], FetchError); 4] = [
            (
                b"HTTP/1.1 503 Secret Reason\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret",
                FetchError::ServerError,
            ),
            (b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", FetchError::ClientError),
            (b"HTTP/1.1 302 Found\r\nlocation: http://10.0.0.1/\r\ncontent-length: 0\r\n\r\n", FetchError::Redirected),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 2000000\r\nconnection: close\r\n\r\n{}", FetchError::TooLarge),
        ];
        for (response, class) in cases {
            let error = client.get(&answering(response).await).await.unwrap_err();
            assert_eq!(error, class);
            let text = error.to_string();
            assert!(!text.contains("503") && !text.contains("ecret") && !text.contains("10.0.0.1"), "{text}");
        }
        // A server that does not speak TLS, and a port nobody listens on.
        let plain = answering(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
        let https = plain.replacen("http://", "https://", 1);
        assert_eq!(client.get(&https).await.unwrap_err(), FetchError::Tls);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        assert_eq!(client.get(&format!("http://{closed}/")).await.unwrap_err(), FetchError::Connect);
    }

    #[tokio::test]
    async fn refused_addresses_are_never_connected_to() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = IdpClient::new(false);
        for url in [
            format!("https://localhost:{port}/jwks"),
            format!("https://127.0.0.1:{port}/jwks"),
            format!("https://[::ffff:127.0.0.1]:{port}/jwks"),
            "https://10.1.2.3/jwks".to_owned(),
            "https://169.254.169.254/latest".to_owned(),
            "https://[fd00::1]/jwks".to_owned(),
        ] {
            assert_eq!(client.get(&url).await.unwrap_err(), FetchError::NotPublic, "{url}");
        }
        let accepted = listener.accept();
        assert!(
            matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a refused address was connected to: {accepted:?}"
        );
    }
}
