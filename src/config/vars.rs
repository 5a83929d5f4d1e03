//! Reading typed values out of the environment, each error naming its variable.

use std::ops::RangeInclusive;

use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use super::rate::Rate;

/// The variable lookup, with empty values treated as unset.
pub struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Vars<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Vars { lookup }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn num<T>(&self, name: &'static str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        parse_num(name, self.get(name), default, range)
    }

    /// A base URL that paths are appended to (`PUBLIC_URL`): no query or fragment.
    pub fn url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        self.get(name).map(|u| parse_url(name, &u, false)).transpose()
    }

    /// A URL only linked to (`BLOG_URL`, `PRIVACY_URL`): a query or fragment is part of it
    /// (`https://blog.example.de/?page_id=3`).
    pub fn link_url(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        self.get(name).map(|u| parse_url(name, &u, true)).transpose()
    }

    /// A URL we send requests to (a notification target): http(s), a host, no user name or
    /// password (tokens go in their own variables). Kept as given: a receiver may care about a
    /// trailing slash.
    pub fn target_url(&self, name: &'static str) -> Result<Option<url::Url>, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(None);
        };
        let url = url::Url::parse(&raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
            .ok_or_else(|| ConfigError::new(name, "expected an absolute http:// or https:// URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::new(
                name,
                "no user name or password in the URL; use the token variable",
            ));
        }
        Ok(Some(url))
    }

    /// A comma-separated list, trimmed, without empty items.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn list_checked(
        &self,
        name: &'static str,
        valid: impl Fn(&str) -> bool,
        complaint: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let items = self.list(name);
        match items.iter().find(|i| !valid(i)) {
            Some(bad) => Err(ConfigError::new(name, format!("{bad:?} {complaint}"))),
            None => Ok(items),
        }
    }

    /// A secret of at least 32 characters, or unset.
    pub fn secret(&self, name: &'static str) -> Result<Option<SecretString>, ConfigError> {
        let secret = self.get(name).map(SecretString::from);
        if secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().chars().count() < 32)
        {
            return Err(ConfigError::new(
                name,
                "must be at least 32 characters (try `openssl rand -hex 32`)",
            ));
        }
        Ok(secret)
    }

    /// IPs or CIDR ranges, or `none`.
    pub fn proxies(&self, name: &'static str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        if self.get(name).as_deref() == Some("none") {
            return Ok(Vec::new());
        }
        self.list(name)
            .iter()
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ConfigError::new(name, format!("{s:?} is not an IP address or CIDR range")))
            })
            .collect()
    }

    pub fn rate(&self, name: &'static str, default: &str) -> Result<Option<Rate>, ConfigError> {
        Rate::parse(&self.get(name).unwrap_or_else(|| default.into())).map_err(|m| ConfigError::new(name, m))
    }
}

fn parse_num<T>(
    var: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = value else { return Ok(default) };
    let n: T = raw
        .parse()
        .map_err(|_| ConfigError::new(var, format!("{raw:?} is not a number")))?;
    if !range.contains(&n) {
        return Err(ConfigError::new(
            var,
            format!("{n} is out of range {}..={}", range.start(), range.end()),
        ));
    }
    Ok(n)
}

/// Accepts an absolute http(s) URL and drops a trailing slash, so paths can be appended.
/// An absolute http(s) URL, normalised by the `url` crate (lower-case scheme and host, no default
/// port). A base URL loses its trailing slash, and may have no query or fragment, which would end
/// up in every link built from it. Userinfo is refused everywhere, as is anything the crate would
/// silently drop or rewrite (whitespace, quotes).
fn parse_url(var: &'static str, raw: &str, link: bool) -> Result<String, ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            var,
            format!("expected an absolute http:// or https:// URL: {why}"),
        )
    };
    if raw.contains(|c: char| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '`')
    }) {
        return Err(bad("whitespace, quotes and angle brackets are not allowed"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad("the scheme must be http or https, with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no user name or password in it"));
    }
    if link {
        return Ok(url.as_str().to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("no ?query or #fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `*`, or `http(s)://host[:port]` with nothing that could break out of a CSP header.
pub fn is_origin(raw: &str) -> bool {
    if raw == "*" {
        return true;
    }
    let Some(host) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    else {
        return false;
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '*'))
}
