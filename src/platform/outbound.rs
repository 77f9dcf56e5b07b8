//! Requests Concord makes to addresses its users type (webhook endpoints): never into the host's own networks.
//!
//! An address is judged by what it *is*, not how it is spelled: the URL is parsed the way browsers do (so
//! `2130706433`, `0x7f000001`, `127.1` and `0177.0.0.1` all become 127.0.0.1), and names are judged by every
//! address DNS gives for them, when the endpoint is added and again by the resolver that opens each connection, so
//! a name that later resolves to 127.0.0.1 is refused too and there is no gap between the check and the connect.
//! `CONCORD_WEBHOOK_ALLOW_PRIVATE=on` lifts the rule for installs whose receivers live on the same network.
//!
//! What went wrong is reported in words that reveal nothing about the inside ("could not connect"), so the
//! delivery list cannot be used to scan ports.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long one request (connect, send, answer) may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long the check when an endpoint is added waits for DNS.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Loopback, private (RFC 1918, unique local), link-local, carrier-grade NAT, unspecified, multicast and reserved
/// addresses, and IPv6 forms that carry one of those IPv4 addresses (mapped, compatible, NAT64, 6to4).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || ip.is_multicast()
        || a >= 240 // reserved, broadcast included
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| {
        is_internal_v4(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        ))
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || s[..6] == [0; 6] // IPv4-compatible ::a.b.c.d
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x64 && s[1] == 0xff9b && embedded(s[6], s[7])) // NAT64
        || (s[0] == 0x2002 && embedded(s[1], s[2])) // 6to4
}

/// Why an address is not acceptable, in words for the admin who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unacceptable {
    #[error("Give the endpoint's full address, like https://example.com/concord/webhooks.")]
    NotAnAddress,
    #[error("Leave the user name and password out of the address; deliveries are signed with the endpoint's secret instead.")]
    Credentials,
    #[error("That address is inside this server's network (loopback, private or link-local); webhooks go only to public addresses unless CONCORD_WEBHOOK_ALLOW_PRIVATE=on.")]
    Internal,
}

/// The address parsed and normalised, or why it is refused, judging only what the text itself says.
pub fn parse_public_url(raw: &str, allow_private: bool) -> Result<url::Url, Unacceptable> {
    let url = url::Url::parse(raw.trim()).map_err(|_| Unacceptable::NotAnAddress)?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(Unacceptable::NotAnAddress);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Unacceptable::Credentials);
    }
    let literal = match url.host() {
        None => return Err(Unacceptable::NotAnAddress),
        Some(url::Host::Domain(_)) => None,
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    if !allow_private && literal.is_some_and(is_internal) {
        return Err(Unacceptable::Internal);
    }
    Ok(url)
}

/// `parse_public_url`, then (for a name) what DNS says now: any internal answer refuses it. A name that does not
/// resolve yet is accepted; the resolver checks it again at every delivery.
pub async fn check_public_url(raw: &str, allow_private: bool) -> Result<url::Url, Unacceptable> {
    let url = parse_public_url(raw, allow_private)?;
    if allow_private {
        return Ok(url);
    }
    if let Some(url::Host::Domain(name)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((name, port)));
        if let Ok(Ok(addresses)) = lookup.await {
            if addresses.into_iter().any(|a| is_internal(a.ip())) {
                return Err(Unacceptable::Internal);
            }
        }
    }
    Ok(url)
}

/// The resolver behind every outgoing connection: the system's answers, refused whole when any is internal.
#[derive(Clone)]
struct PublicResolver {
    allow_private: bool,
}

/// The error a refused name carries through hyper's error chain, found again by `PostError::from_hyper`.
#[derive(Debug, thiserror::Error)]
#[error("the name resolves to an internal address")]
struct ResolvesInternal;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Name> for PublicResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if !allow_private && addresses.iter().any(|a| is_internal(a.ip())) {
                return Err(Box::new(ResolvesInternal) as BoxError);
            }
            Ok(addresses.into_iter())
        })
    }
}

/// What became of a POST that got no HTTP answer, in words safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("refused: {0}")]
    Refused(Unacceptable),
    #[error("refused: the address resolves inside this server's network")]
    ResolvesInternal,
    #[error("could not connect")]
    CannotConnect,
    #[error("no answer within {} s", TIMEOUT.as_secs())]
    NoAnswer,
}

impl PostError {
    fn from_hyper(error: &hyper_util::client::legacy::Error) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = cause {
            if e.is::<ResolvesInternal>() {
                return Self::ResolvesInternal;
            }
            cause = e.source();
        }
        // The detail (refused, reset, TLS...) goes to the server's log, never to the page.
        tracing::info!(error = %error, "outgoing request failed");
        Self::CannotConnect
    }
}

/// POSTs `body` as JSON with `headers`; the answer's status code. The address is checked again here (an endpoint
/// may predate the rule), and the connection only ever goes to addresses the resolver accepted.
pub async fn post_json(
    raw_url: &str,
    headers: &[(&str, String)],
    body: String,
    allow_private: bool,
) -> Result<u16, PostError> {
    let url = parse_public_url(raw_url, allow_private).map_err(PostError::Refused)?;
    let mut http = HttpConnector::new_with_resolver(PublicResolver { allow_private });
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut request = hyper::Request::post(url.as_str()).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| PostError::Refused(Unacceptable::NotAnAddress))?;
    let response = tokio::time::timeout(TIMEOUT, client.request(request))
        .await
        .map_err(|_| PostError::NoAnswer)?
        .map_err(|e| PostError::from_hyper(&e))?;
    let status = response.status().as_u16();
    // Read (and drop) the body so the connection ends cleanly.
    let _ = tokio::time::timeout(TIMEOUT, response.into_body().collect()).await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_internal_address_is_refused() {
        for raw in [
            "http://127.0.0.1/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://127.1/",
            "http://0177.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[::]/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://255.255.255.255/",
        ] {
            assert_eq!(
                parse_public_url(raw, false),
                Err(Unacceptable::Internal),
                "{raw}"
            );
            assert!(parse_public_url(raw, true).is_ok(), "{raw} when allowed");
        }
    }

    #[test]
    fn credentials_and_other_schemes_are_refused_public_addresses_pass() {
        assert_eq!(
            parse_public_url("http://user:pw@example.com/", false),
            Err(Unacceptable::Credentials)
        );
        assert_eq!(
            parse_public_url("http://user:pw@127.0.0.1/", true),
            Err(Unacceptable::Credentials)
        );
        assert_eq!(
            parse_public_url("ftp://example.com/", false),
            Err(Unacceptable::NotAnAddress)
        );
        assert_eq!(
            parse_public_url("not a url", false),
            Err(Unacceptable::NotAnAddress)
        );
        for raw in [
            "https://example.com/hooks",
            "http://93.184.216.34:8443/x",
            "https://[2606:2800:220:1:248:1893:25c8:1946]/",
            "http://[64:ff9b::5db8:d822]/",
        ] {
            assert!(parse_public_url(raw, false).is_ok(), "{raw}");
        }
    }
}
