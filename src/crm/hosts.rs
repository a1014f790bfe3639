//! The one rule for which hosts Liaison calls: Salesforce's own, the operator's allow-list,
//! and (for test doubles only) loopback. An org link's login host is checked with it when it is
//! set, and every outbound URL (login host, the `instance_url` and identity URL Salesforce
//! answers with) again before a call; the resolver then refuses names that resolve to
//! addresses inside the network, so the address checked is the address connected to.
//!
//! **Salesforce's hosts** are subdomains of the domains Salesforce serves orgs from:
//!
//! - `salesforce.com`: `login.salesforce.com` (production), `test.salesforce.com` (sandboxes),
//!   My Domain hosts (`NAME.my.salesforce.com`, `NAME--SANDBOX.sandbox.my.salesforce.com`,
//!   `NAME.develop.my.salesforce.com`, `NAME.scratch.my.salesforce.com`) and classic instance
//!   hosts (`na1.salesforce.com`, `cs42.salesforce.com`);
//! - `force.com`: Salesforce's other API, identity and Lightning hosts (`NAME.my.force.com`,
//!   `NAME.lightning.force.com`);
//! - `salesforce-gov.com`: Government Cloud Plus (`NAME.my.salesforce-gov.com`,
//!   `NAME--SANDBOX.sandbox.my.salesforce-gov.com`);
//! - `salesforce.mil`: Government Cloud Plus Defense (`NAME.my.salesforce.mil` and its
//!   sandbox form).
//!
//! A URL to one must be `https://`, carry no user name or password, use the default port and,
//! for a base URL, no path beyond `/`. IP literals, names with a trailing dot and
//! internationalised names never match. Matching is case-insensitive (names are lowercased).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::AllowedHost;

/// The registrable domains whose subdomains are Salesforce's.
pub const SALESFORCE_DOMAINS: &[&str] = &[
    "salesforce.com",
    "force.com",
    "salesforce-gov.com",
    "salesforce.mil",
];

/// What the login host of an org link may be, for the 422 a refused one gets.
pub const ACCEPTED: &str = "must be production, sandbox, or the https:// URL of a Salesforce login \
     host (a My Domain such as https://NAME.my.salesforce.com, a sandbox, Government Cloud host \
     under salesforce-gov.com or salesforce.mil) or of a host in crm.allowed_hosts";

/// Why a host may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostRefused(pub String);

fn refused<T>(reason: impl Into<String>) -> Result<T, HostRefused> {
    Err(HostRefused(reason.into()))
}

/// Which hosts Liaison may call (see the module's documentation).
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    allowed: Vec<AllowedHost>,
    /// `crm.allow_http_login_hosts`: test doubles on `http://` and loopback are admitted too.
    test_doubles: bool,
}

impl HostPolicy {
    /// The policy of `crm.allowed_hosts` and `crm.allow_http_login_hosts`; an entry that does
    /// not parse is named in the error.
    pub fn new(allowed_hosts: &[String], test_doubles: bool) -> Result<Self, String> {
        let allowed = AllowedHost::parse_all(allowed_hosts)?;
        Ok(Self {
            allowed,
            test_doubles,
        })
    }

    /// The origins a page may send the browser to (a form posted to Liaison that answers with
    /// a redirect to Salesforce: connecting a link, signing in), as CSP source expressions:
    /// Salesforce's domains' subdomains, the allow-listed hosts and, for test doubles, loopback.
    pub fn browser_origins(&self) -> String {
        let mut origins: Vec<String> = SALESFORCE_DOMAINS
            .iter()
            .map(|domain| format!("https://*.{domain}"))
            .collect();
        origins.extend(self.allowed.iter().map(|allowed| match allowed.port {
            443 => format!("https://{}", allowed.host),
            port => format!("https://{}:{port}", allowed.host),
        }));
        if self.test_doubles {
            origins.extend(
                ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"].map(String::from),
            );
        }
        origins.join(" ")
    }

    /// Salesforce's hosts alone (plus loopback test doubles when `test_doubles`).
    pub fn salesforce_only(test_doubles: bool) -> Self {
        Self {
            allowed: Vec::new(),
            test_doubles,
        }
    }

    /// An org link's login host as given by an administrator: `production`, `sandbox`, or a URL
    /// that passes `base_url`. Answers it as stored (`https://host[:port]`).
    pub fn login_host(&self, raw: &str) -> Result<String, String> {
        match raw.trim() {
            "production" => Ok("https://login.salesforce.com".into()),
            "sandbox" => Ok("https://test.salesforce.com".into()),
            url => self
                .base_url(url)
                .map(|url| url.origin().ascii_serialization())
                .map_err(|e| format!("{ACCEPTED}: {e}")),
        }
    }

    /// A base URL Liaison calls paths under (a login host, an instance URL): the host by the
    /// rule, and nothing after it but `/`.
    pub fn base_url(&self, raw: &str) -> Result<Url, HostRefused> {
        let url = parse(raw)?;
        self.check_origin(&url)?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return refused(format!(
                "{} has a path, query or fragment; give the host alone",
                shown(&url)
            ));
        }
        Ok(url)
    }

    /// The identity URL of a token answer (`https://login.salesforce.com/id/00D…/005…`): its
    /// host by the same rule, any path.
    pub fn identity_url(&self, raw: &str) -> Result<Url, HostRefused> {
        let url = parse(raw)?;
        self.check_origin(&url)?;
        Ok(url)
    }

    fn check_origin(&self, url: &Url) -> Result<(), HostRefused> {
        let shown = shown(url);
        match url.scheme() {
            "https" => {}
            "http" if self.test_doubles => {}
            _ => return refused(format!("{shown} does not use https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refused(format!("{shown} carries a user name or password"));
        }
        let Some(host) = url.host() else {
            return refused(format!("{shown} has no host"));
        };
        let name = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(0);
        if self.allows(name, port) {
            return Ok(());
        }
        if self.test_doubles && is_loopback_host(&host) {
            return Ok(());
        }
        match host {
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => {
                refused(format!("{shown}: an IP address is not a Salesforce host"))
            }
            url::Host::Domain(domain) => {
                salesforce_domain(domain).map_err(|why| HostRefused(format!("{shown}: {why}")))?;
                if url.port().is_some() {
                    return refused(format!(
                        "{shown}: Salesforce is called on the default port (443) only"
                    ));
                }
                Ok(())
            }
        }
    }

    fn allows(&self, host: &str, port: u16) -> bool {
        self.allowed
            .iter()
            .any(|a| a.host == host && a.port == port)
    }

    /// Whether `ip`, an address `name` resolved to, may be connected to: a public address, or
    /// any address of an allow-listed host, or loopback for test doubles.
    pub fn address_allowed(&self, name: &str, ip: IpAddr) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if self.allowed.iter().any(|a| a.host == name) {
            return true;
        }
        if self.test_doubles && ip.is_loopback() {
            return true;
        }
        is_public(ip)
    }
}

/// Parses a URL after refusing what the parser would quietly repair or translate: non-ASCII
/// (internationalised names), whitespace and control characters.
fn parse(raw: &str) -> Result<Url, HostRefused> {
    let raw = raw.trim();
    if !raw.is_ascii() {
        return refused("internationalised host names are not Salesforce hosts");
    }
    if raw
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return refused("the URL holds spaces or control characters");
    }
    Url::parse(raw).map_err(|e| HostRefused(format!("not a URL ({e})")))
}

/// The scheme and host of a URL, for messages (never its user name, password or path).
fn shown(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
}

fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => *name == "localhost",
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Whether a (lowercased) DNS name is a subdomain of one of `SALESFORCE_DOMAINS`.
fn salesforce_domain(name: &str) -> Result<(), &'static str> {
    if name.ends_with('.') {
        return Err("a name with a trailing dot is not accepted");
    }
    if name.len() > 253 {
        return Err("the name is too long");
    }
    for label in name.split('.') {
        let valid = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err("the name is not a valid host name");
        }
        if label.starts_with("xn--") {
            return Err("internationalised host names are not Salesforce hosts");
        }
    }
    let under_salesforce = SALESFORCE_DOMAINS.iter().any(|domain| {
        name.strip_suffix(domain)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
    });
    if under_salesforce {
        Ok(())
    } else {
        Err("not a Salesforce host")
    }
}

/// Addresses a cloud platform answers its metadata or host services on that sit in otherwise
/// public ranges (Azure's wire server).
const METADATA_V4: &[Ipv4Addr] = &[Ipv4Addr::new(168, 63, 129, 16)];

/// Whether an address is on the public internet: not loopback, private (10/8, 172.16/12,
/// 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10, the metadata address
/// 169.254.169.254 among them), CGNAT (100.64/10), unspecified, broadcast, multicast,
/// reserved, documentation or benchmarking space, nor a metadata address. IPv6 forms that
/// carry an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let internal = a == 0 // "this network", 0.0.0.0 among it
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224; // multicast, reserved, broadcast
    !internal && !METADATA_V4.contains(&ip)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    // 6to4 (2002::/16) carries one in bits 16 to 48.
    if s[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    let internal = ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]); // discard
    !internal
}

/// Resolves a host name to addresses; the system's resolver in production, a table in tests.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (getaddrinfo, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The HTTP client's resolver: a name whose addresses are not all allowed (`address_allowed`)
/// is refused whole, so a connection only ever goes to an address that was checked.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<HostPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<HostPolicy>, lookup: Arc<dyn Lookup>) -> Self {
        Self { policy, lookup }
    }

    /// The addresses of `name`, or why they may not be connected to.
    pub async fn resolve_checked(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let addrs = self
            .lookup
            .lookup(name.to_string())
            .await
            .map_err(ResolveError::Lookup)?;
        if addrs.is_empty() {
            return Err(ResolveError::Lookup(std::io::Error::other(format!(
                "{name} has no addresses"
            ))));
        }
        if let Some(bad) = addrs
            .iter()
            .find(|ip| !self.policy.address_allowed(name, **ip))
        {
            return Err(ResolveError::Refused(HostRefused(format!(
                "{name} resolves to {bad}, an address inside the network (loopback, private, \
                 link-local or metadata); add it to crm.allowed_hosts if it is meant"
            ))));
        }
        Ok(addrs)
    }
}

/// A failed resolution: the name could not be looked up, or its addresses are refused.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Lookup(std::io::Error),
    #[error(transparent)]
    Refused(HostRefused),
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs = match this.resolve_checked(&name).await {
                Ok(addrs) => addrs,
                Err(ResolveError::Refused(refusal)) => return Err(Box::new(refusal) as _),
                Err(ResolveError::Lookup(error)) => return Err(Box::new(error) as _),
            };
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The refusal in an error's chain of causes, if the resolver refused the host.
pub fn refusal_in(error: &(dyn std::error::Error + 'static)) -> Option<HostRefused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refusal) = e.downcast_ref::<HostRefused>() {
            return Some(refusal.clone());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn strict() -> HostPolicy {
        HostPolicy::salesforce_only(false)
    }

    #[test]
    fn production_sandbox_my_domain_and_gov_cloud_hosts_are_accepted() {
        let policy = strict();
        for (raw, stored) in [
            ("production", "https://login.salesforce.com"),
            ("sandbox", "https://test.salesforce.com"),
            (
                "https://login.salesforce.com",
                "https://login.salesforce.com",
            ),
            (
                "https://test.salesforce.com/",
                "https://test.salesforce.com",
            ),
            (
                "https://acme.my.salesforce.com",
                "https://acme.my.salesforce.com",
            ),
            (
                "https://acme--uat.sandbox.my.salesforce.com",
                "https://acme--uat.sandbox.my.salesforce.com",
            ),
            (
                "https://acme-dev-ed.develop.my.salesforce.com",
                "https://acme-dev-ed.develop.my.salesforce.com",
            ),
            (
                "https://fun-1234.scratch.my.salesforce.com",
                "https://fun-1234.scratch.my.salesforce.com",
            ),
            (
                "https://agency.my.salesforce-gov.com",
                "https://agency.my.salesforce-gov.com",
            ),
            (
                "https://agency--uat.sandbox.my.salesforce-gov.com",
                "https://agency--uat.sandbox.my.salesforce-gov.com",
            ),
            (
                "https://unit.my.salesforce.mil",
                "https://unit.my.salesforce.mil",
            ),
            ("https://na1.salesforce.com", "https://na1.salesforce.com"),
            ("https://cs42.salesforce.com", "https://cs42.salesforce.com"),
            ("https://acme.my.force.com", "https://acme.my.force.com"),
            (
                "HTTPS://Acme.My.Salesforce.COM/",
                "https://acme.my.salesforce.com",
            ),
            (
                "https://login.salesforce.com:443",
                "https://login.salesforce.com",
            ),
        ] {
            assert_eq!(policy.login_host(raw).as_deref(), Ok(stored), "{raw}");
        }
    }

    #[test]
    fn the_probe_hosts_and_look_alikes_are_refused() {
        let policy = strict();
        for raw in [
            "https://169.254.169.254",
            "https://127.0.0.1:5432",
            "https://10.0.0.1",
            "https://localhost",
            "https://evil.com",
            "https://my.salesforce.com.evil.com",
            "https://x.my.salesforce.com@evil.com",
            "https://user:pw@acme.my.salesforce.com",
            "https://acme.my.salesforce.com:8443",
            "https://login.salesforce.com:80",
            "https://[::1]",
            "https://[fd00:ec2::254]",
            "https://[::ffff:169.254.169.254]",
            "http://login.salesforce.com",
            "ftp://login.salesforce.com",
            "https://login.salesforce.com.",
            "https://salesforce.com",
            "https://evilsalesforce.com",
            "https://xn--80ak6aa92e.salesforce.com",
            "https://аcme.my.salesforce.com",
            "https://acme.my.salesforce.com/services",
            "https://acme.my.salesforce.com/?x=1",
            "https://acme.my.salesforce.com\\@evil.com",
            "https://acme.my.salesforce.com#frag",
            "https://login.sales force.com",
            "https://-acme.my.salesforce.com",
            "https://2130706433",
            "login.salesforce.com",
            "",
        ] {
            let refusal = policy.login_host(raw);
            assert!(refusal.is_err(), "{raw} was accepted as {refusal:?}");
            assert!(refusal.unwrap_err().starts_with(ACCEPTED), "{raw}");
        }
    }

    #[test]
    fn the_reason_says_what_is_wrong_without_the_userinfo() {
        let why = strict()
            .login_host("https://admin:hunter2@acme.my.salesforce.com")
            .unwrap_err();
        assert!(why.contains("user name or password"), "{why}");
        assert!(!why.contains("hunter2"), "{why}");
        let why = strict().login_host("https://10.0.0.1").unwrap_err();
        assert!(why.contains("IP address"), "{why}");
        let why = strict().login_host("https://evil.com").unwrap_err();
        assert!(why.contains("not a Salesforce host"), "{why}");
    }

    #[test]
    fn an_allow_listed_host_is_accepted_on_its_port_only() {
        let policy = HostPolicy::new(
            &["sf-proxy.corp.example:8443".into(), "10.1.2.3".into()],
            false,
        )
        .unwrap();
        assert_eq!(
            policy
                .login_host("https://sf-proxy.corp.example:8443")
                .as_deref(),
            Ok("https://sf-proxy.corp.example:8443")
        );
        assert_eq!(
            policy.login_host("https://10.1.2.3").as_deref(),
            Ok("https://10.1.2.3")
        );
        assert!(policy.login_host("https://sf-proxy.corp.example").is_err());
        assert!(
            policy
                .login_host("https://sf-proxy.corp.example:9443")
                .is_err()
        );
        assert!(
            policy
                .login_host("http://sf-proxy.corp.example:8443")
                .is_err()
        );
        assert!(policy.login_host("https://10.1.2.3:8443").is_err());
        assert!(policy.login_host("https://evil.com").is_err());
    }

    #[test]
    fn allow_list_entries_are_hosts_or_host_and_port() {
        for good in [
            "proxy.example",
            "proxy.example:8443",
            "[::1]:8443",
            "10.0.0.1",
        ] {
            assert!(AllowedHost::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "https://proxy.example",
            "proxy.example/path",
            "user@proxy.example",
            "proxy.example:99999",
            "proxy.example.",
            "",
            "prox y",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
        let error = HostPolicy::new(&["ok.example".into(), "https://x".into()], false).unwrap_err();
        assert!(error.contains("https://x"), "{error}");
    }

    #[test]
    fn the_test_double_switch_admits_http_and_loopback_only() {
        let doubles = HostPolicy::salesforce_only(true);
        assert_eq!(
            doubles.login_host("http://127.0.0.1:41234").as_deref(),
            Ok("http://127.0.0.1:41234")
        );
        assert!(doubles.login_host("https://localhost:8443").is_ok());
        assert!(doubles.login_host("http://[::1]:8080").is_ok());
        assert!(doubles.login_host("http://acme.my.salesforce.com").is_ok());
        for raw in [
            "https://169.254.169.254",
            "http://10.0.0.1",
            "https://evil.com",
            "http://evil.com:8080",
        ] {
            assert!(doubles.login_host(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn identity_urls_are_judged_by_their_host() {
        let policy = strict();
        assert!(
            policy
                .identity_url(
                    "https://login.salesforce.com/id/00D5g000004ZKTDEA4/0055g00000A1b2cAAB"
                )
                .is_ok()
        );
        assert!(
            policy
                .identity_url("https://acme.my.salesforce.com/id/00D5g000004ZKTDEA4/005")
                .is_ok()
        );
        assert!(
            policy
                .identity_url("https://evil.com/id/00D5g000004ZKTDEA4/0055g00000A1b2cAAB")
                .is_err()
        );
        assert!(
            policy
                .identity_url("https://169.254.169.254/id/00D/005")
                .is_err()
        );
        // A base URL has no path; an identity URL always has one.
        assert!(
            policy
                .base_url("https://login.salesforce.com/id/00D/005")
                .is_err()
        );
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.100.100.200",
            "100.127.255.255",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.0.192",
            "198.18.0.1",
            "168.63.129.16",
            "::",
            "::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:0a00:0001::1",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} counted as public");
        }
        for ip in [
            "13.110.0.1",
            "101.53.160.1",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2a01:111:f400::1",
            "::ffff:13.110.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} counted as internal");
        }
    }

    /// A resolver fed from a table.
    struct Table(HashMap<&'static str, Vec<IpAddr>>);

    impl Lookup for Table {
        fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
            let found = self.0.get(host.as_str()).cloned();
            Box::pin(async move { found.ok_or_else(|| std::io::Error::other("no such host")) })
        }
    }

    fn table(entries: &[(&'static str, &[&str])]) -> Arc<dyn Lookup> {
        Arc::new(Table(
            entries
                .iter()
                .map(|(name, ips)| (*name, ips.iter().map(|ip| ip.parse().unwrap()).collect()))
                .collect(),
        ))
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_inside_the_network() {
        let lookup = table(&[
            (
                "acme.my.salesforce.com",
                &["13.110.0.1", "2a01:111:f400::1"],
            ),
            ("loop.my.salesforce.com", &["127.0.0.1"]),
            ("meta.my.salesforce.com", &["169.254.169.254"]),
            ("mixed.my.salesforce.com", &["13.110.0.1", "10.0.0.7"]),
            ("v6.my.salesforce.com", &["::1"]),
            ("proxy.corp.example", &["10.1.2.3"]),
            ("localhost", &["127.0.0.1", "::1"]),
        ]);
        let strict = GuardedResolver::new(
            Arc::new(HostPolicy::new(&["proxy.corp.example:8443".into()], false).unwrap()),
            lookup.clone(),
        );
        assert_eq!(
            strict
                .resolve_checked("acme.my.salesforce.com")
                .await
                .unwrap()
                .len(),
            2
        );
        for name in [
            "loop.my.salesforce.com",
            "meta.my.salesforce.com",
            "mixed.my.salesforce.com",
            "v6.my.salesforce.com",
            "localhost",
        ] {
            assert!(
                matches!(
                    strict.resolve_checked(name).await,
                    Err(ResolveError::Refused(_))
                ),
                "{name}"
            );
        }
        // The operator vouched for this one, wherever it points.
        assert!(strict.resolve_checked("proxy.corp.example").await.is_ok());
        assert!(matches!(
            strict.resolve_checked("unknown.my.salesforce.com").await,
            Err(ResolveError::Lookup(_))
        ));

        let doubles = GuardedResolver::new(Arc::new(HostPolicy::salesforce_only(true)), lookup);
        assert!(doubles.resolve_checked("localhost").await.is_ok());
        assert!(
            doubles
                .resolve_checked("loop.my.salesforce.com")
                .await
                .is_ok()
        );
        assert!(matches!(
            doubles.resolve_checked("meta.my.salesforce.com").await,
            Err(ResolveError::Refused(_))
        ));
    }
}
