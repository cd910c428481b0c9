//! The client that fetches the images pins name by URL, when the operator
//! turned `fetch_pin_images` on. A pin's URL is the advertiser's to choose,
//! so this client is built against server-side request forgery: it reaches
//! public addresses only (every address a name resolves to is checked at
//! connect time, so a name cannot turn private between check and use), so
//! that no advertiser can make adloom read its own network, a cloud's
//! metadata service or a neighbour on the loopback; and it takes no proxy
//! from the environment, follows at most three redirects (each checked
//! again), gives up after ten seconds and reads at most
//! [`MAX_IMAGE_BYTES`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use adloom_engine::media::{ImageFetcher, MAX_IMAGE_BYTES};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{redirect, Url};

/// The most redirects followed.
const MAX_REDIRECTS: usize = 3;
/// The longest a fetch may take, from connecting to the last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Which addresses the client may connect to: [`is_public`], but for tests
/// that stand a server on one loopback address.
type Allowed = fn(IpAddr) -> bool;

/// Fetches pins' images from public addresses only.
pub struct PublicImageFetcher {
    client: reqwest::Client,
    allowed: Allowed,
}

impl PublicImageFetcher {
    pub fn new() -> anyhow::Result<PublicImageFetcher> {
        PublicImageFetcher::reaching(is_public)
    }

    fn reaching(allowed: Allowed) -> anyhow::Result<PublicImageFetcher> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .dns_resolver(Arc::new(AllowedOnly(allowed)))
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error(Refused(format!("more than {MAX_REDIRECTS} redirects")))
                } else {
                    match check_url(attempt.url(), allowed) {
                        Ok(()) => attempt.follow(),
                        Err(refused) => attempt.error(refused),
                    }
                }
            }))
            .user_agent(concat!(
                "adloom/",
                env!("CARGO_PKG_VERSION"),
                " (pin images)"
            ))
            .build()?;
        Ok(PublicImageFetcher { client, allowed })
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let url = Url::parse(url).map_err(|_| "not a URL".to_owned())?;
        check_url(&url, self.allowed).map_err(|r| r.0)?;
        let mut response = self.client.get(url).send().await.map_err(in_words)?;
        if !response.status().is_success() {
            return Err(format!("the host answered {}", response.status()));
        }
        let too_large = || format!("over {} MB", MAX_IMAGE_BYTES / (1024 * 1024));
        if response
            .content_length()
            .is_some_and(|n| n > MAX_IMAGE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(in_words)? {
            if bytes.len() + chunk.len() > MAX_IMAGE_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

#[async_trait::async_trait]
impl ImageFetcher for PublicImageFetcher {
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let result = self.get(url).await;
        if let Err(reason) = &result {
            tracing::info!(%reason, "a pin's image was not fetched");
        }
        result
    }
}

/// Why a URL is not fetched, in words for the advertiser.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A URL this client may ask for: http or https, and a host given as an
/// address only when that address is allowed (a name is checked when it is
/// resolved, by [`AllowedOnly`]; the connector never resolves an address).
fn check_url(url: &Url, allowed: Allowed) -> Result<(), Refused> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused("only http and https images are fetched".into()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| Refused("the URL has no host".into()))?;
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) if !allowed(ip) => Err(not_public(host)),
        _ => Ok(()),
    }
}

fn not_public(host: &str) -> Refused {
    Refused(format!("{host} is not a public address"))
}

/// Resolves names as the system does, keeping only allowed addresses.
struct AllowedOnly(Allowed);

impl Resolve for AllowedOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Refused(format!("{host} could not be resolved")))?
                .filter(|addr| allowed(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(not_public(&host).into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// A failed request in words: the refusal behind it when there is one.
fn in_words(error: reqwest::Error) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return refused.0.clone();
        }
        cause = e.source();
    }
    if error.is_timeout() {
        format!(
            "the host did not answer within {} s",
            FETCH_TIMEOUT.as_secs()
        )
    } else {
        "the host could not be reached".into()
    }
}

/// Whether `ip` is an address on the public internet: not loopback,
/// private, shared (carrier NAT), link-local (where clouds answer metadata
/// requests), multicast, documentation, benchmarking or reserved, nor an
/// IPv6 address that carries such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |high: u16, low: u16| {
        is_public_v4(Ipv4Addr::new(
            (high >> 8) as u8,
            high as u8,
            (low >> 8) as u8,
            low as u8,
        ))
    };
    match s[0] {
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach IPv4 addresses.
        0x0064 if s[1] == 0xff9b => embedded(s[6], s[7]),
        0x2002 => embedded(s[1], s[2]),
        // Documentation (2001:db8::/32).
        0x2001 if s[1] == 0x0db8 => false,
        _ => {
            !(ip.is_unspecified()
                || ip.is_loopback()
                || ip.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[..6] == [0; 6])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    /// A server on 127.0.0.2 stands for the advertiser's public host: the
    /// client may reach that address and no other.
    fn reaching_one_address() -> PublicImageFetcher {
        PublicImageFetcher::reaching(|ip| ip == IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).unwrap()
    }

    async fn serve(app: axum::Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    #[tokio::test]
    async fn private_addresses_are_refused_however_they_are_named() {
        let fetcher = PublicImageFetcher::new().unwrap();
        for (url, reason) in [
            (
                "http://127.0.0.1:1/a.png",
                "127.0.0.1 is not a public address",
            ),
            // The decimal form of 127.0.0.1, which URL parsing normalises.
            (
                "http://2130706433/a.png",
                "127.0.0.1 is not a public address",
            ),
            ("http://[::1]/a.png", "[::1] is not a public address"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254 is not a public address",
            ),
            (
                "http://localhost:1/a.png",
                "localhost is not a public address",
            ),
            (
                "file:///etc/passwd",
                "only http and https images are fetched",
            ),
            (
                "ftp://example.com/a.png",
                "only http and https images are fetched",
            ),
        ] {
            assert_eq!(fetcher.fetch(url).await.unwrap_err(), reason, "{url}");
        }
    }

    #[tokio::test]
    async fn a_redirect_into_the_network_is_refused_and_an_image_is_fetched() {
        use axum::response::Redirect;
        use axum::routing::get;
        let app = axum::Router::new()
            .route(
                "/image.png",
                get(|| async { b"the image's bytes".to_vec() }),
            )
            .route(
                "/inside",
                get(|| async { Redirect::temporary("http://127.0.0.1:1/secret") }),
            )
            .route(
                "/named",
                get(|| async { Redirect::temporary("http://localhost:1/secret") }),
            )
            .route("/loop", get(|| async { Redirect::temporary("/loop") }))
            .route("/large", get(|| async { vec![0u8; MAX_IMAGE_BYTES + 1] }))
            .route(
                "/gone",
                get(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
            );
        let addr = serve(app).await;
        let fetcher = reaching_one_address();
        let at = |path: &str| format!("http://{addr}{path}");
        assert_eq!(
            fetcher.fetch(&at("/image.png")).await.unwrap(),
            b"the image's bytes"
        );
        for (path, reason) in [
            ("/inside", "127.0.0.1 is not a public address".to_owned()),
            ("/named", "localhost is not a public address".to_owned()),
            ("/loop", format!("more than {MAX_REDIRECTS} redirects")),
            ("/large", "over 4 MB".to_owned()),
            ("/gone", "the host answered 404 Not Found".to_owned()),
        ] {
            assert_eq!(
                fetcher.fetch(&at(path)).await.unwrap_err(),
                reason,
                "{path}"
            );
        }
    }
}
