//! The address a request comes from, as every rate limit keys on it. Behind a reverse proxy
//! the peer is the proxy, so the client is read from `Forwarded` (RFC 7239) or
//! `X-Forwarded-For`, but only when the peer is a configured trusted proxy: anyone else could
//! write those headers to pick the key they are limited under.

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::FORWARDED;
use ipnet::IpNet;

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpNet>) -> Self {
        Self(proxies)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`: the peer itself unless it is a trusted proxy, else the
    /// nearest address in the forwarding chain that is not a trusted proxy. The chain is read
    /// from the right, since each proxy appends what it saw and only the trusted ones' entries
    /// can be believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        let mut client = peer;
        for address in chain.iter().rev() {
            client = *address;
            if !self.trusts(*address) {
                break;
            }
        }
        client
    }
}

/// The addresses of the forwarding chain, client first: `Forwarded`'s `for=` entries when the
/// header is there, else `X-Forwarded-For`'s. An entry that is not an address (`unknown`, an
/// obfuscated name) ends the chain there, so nothing before it is believed.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers
        .get_all(FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then_some(value.trim())
            })
        })
        .collect();
    let entries: Vec<&str> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect()
    } else {
        forwarded
    };
    let parsed: Vec<Option<IpAddr>> = entries.iter().map(|e| address(e)).collect();
    // Keep only the believable tail: everything right of the last entry that is not an address.
    let start = parsed
        .iter()
        .rposition(Option::is_none)
        .map_or(0, |i| i + 1);
    parsed[start..].iter().flatten().copied().collect()
}

/// One entry: `192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:4711`.
fn address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|p| p.parse().expect("net")).collect())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        let h = headers(&[("x-forwarded-for", "198.51.100.9")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("203.0.113.5"), &h),
            ip("203.0.113.5")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.2"), &h),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn a_trusted_proxy_reports_the_client_it_saw() {
        let h = headers(&[("x-forwarded-for", "198.51.100.9")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("10.0.0.2"), &h),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn a_forged_entry_left_of_the_real_client_is_not_believed() {
        // The client wrote "1.2.3.4" itself; the proxy appended the address it saw.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.9")]);
        assert_eq!(
            proxies(&["10.0.0.2/32"]).client(ip("10.0.0.2"), &h),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn chained_trusted_proxies_are_skipped() {
        let h = headers(&[("x-forwarded-for", "198.51.100.9, 10.0.0.7")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("10.0.0.2"), &h),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn forwarded_header_wins_and_its_forms_are_read() {
        let h = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.7",
            ),
            ("x-forwarded-for", "1.2.3.4"),
        ]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("10.0.0.2"), &h),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn an_unknown_entry_stops_the_chain() {
        let h = headers(&[("forwarded", "for=198.51.100.9, for=unknown")]);
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("10.0.0.2"), &h),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn no_header_from_a_trusted_proxy_keys_on_the_proxy() {
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
    }
}
