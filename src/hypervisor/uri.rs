//! A libvirt connection URI, parsed once: `driver[+transport]://[user@][host][:port]/[path][?query]`.
//!
//! Every question virtsmoke asks of a URI (which hypervisor, is it this
//! machine, which host does it name) is answered here, not by string prefixes.

use std::fmt;

use super::platform::Family;

/// The hypervisor family a URI's driver manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriFamily {
    /// `qemu` (KVM or TCG).
    Kvm,
    /// `xen` and `libxl` (libvirt's libxl driver).
    Xen,
    /// libvirt's in-process `test` driver.
    Test,
    /// Any other driver (`lxc`, `ch`, `bhyve`, …): libvirt may know it, virtsmoke does not.
    Unknown,
}

impl UriFamily {
    /// The platform module for the family, if virtsmoke has one.
    pub fn hypervisor(self) -> Option<Family> {
        match self {
            UriFamily::Kvm => Some(Family::Kvm),
            UriFamily::Xen => Some(Family::Xen),
            UriFamily::Test | UriFamily::Unknown => None,
        }
    }
}

/// How libvirt reaches the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// No transport and no host: this machine's default socket.
    Local,
    Unix,
    Ssh,
    Tcp,
    Tls,
    Libssh,
    Libssh2,
    /// Runs a local program (`command=`) to talk to the daemon; always refused.
    Ext,
}

impl Transport {
    fn parse(s: &str) -> Option<Transport> {
        Some(match s.to_ascii_lowercase().as_str() {
            "unix" => Transport::Unix,
            "ssh" => Transport::Ssh,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            "libssh" => Transport::Libssh,
            "libssh2" => Transport::Libssh2,
            "ext" => Transport::Ext,
            _ => return None,
        })
    }
}

/// Why a string is not a URI virtsmoke will use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("`{uri}` is not a libvirt URI: {why}")]
    Malformed { uri: String, why: &'static str },
    #[error(
        "uri `{uri}` would run a program on this machine ({what}); virtsmoke refuses such uris: \
         use the ssh, libssh, tcp, tls or unix transport"
    )]
    RunsLocalProgram { uri: String, what: String },
}

/// A parsed libvirt URI; `Display` gives back the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    text: String,
    driver: String,
    transport: Transport,
    user: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    path: String,
    params: Vec<(String, String)>,
}

impl Uri {
    /// Parses `text`, refusing malformed URIs and those that would run a local program.
    pub fn parse(text: &str) -> Result<Uri, UriError> {
        let bad = |why| UriError::Malformed { uri: text.to_string(), why };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("it has no `://`"))?;
        let (driver, transport) = match scheme.split_once('+') {
            Some((d, t)) => (d, Some(Transport::parse(t).ok_or_else(|| bad("unknown transport after `+`"))?)),
            None => (scheme, None),
        };
        if driver.is_empty() || !driver.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("the driver before `://` must be letters and digits"));
        }
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.find('/').map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(decode(u, false).ok_or_else(|| bad("bad %-escape in the user"))?), h),
            None => (None, authority),
        };
        let (host, port) = split_port(hostport).ok_or_else(|| bad("the port must be a number up to 65535"))?;
        let host = (!host.is_empty()).then(|| host.to_string());
        let params = parse_query(query).ok_or_else(|| bad("bad %-escape in the query"))?;
        let transport = transport.unwrap_or(if host.is_some() { Transport::Tls } else { Transport::Local });
        let uri = Uri {
            text: text.to_string(),
            driver: driver.to_ascii_lowercase(),
            transport,
            user: user.filter(|u| !u.is_empty()),
            host,
            port,
            path: path.to_string(),
            params,
        };
        uri.refuse_local_programs()?;
        Ok(uri)
    }

    /// libvirt's `ext` transport and the `command=` parameter run a program
    /// here; a host or user starting with `-` would reach `ssh` as an option.
    fn refuse_local_programs(&self) -> Result<(), UriError> {
        let refuse = |what: String| Err(UriError::RunsLocalProgram { uri: self.text.clone(), what });
        if self.transport == Transport::Ext {
            return refuse("the `ext` transport".into());
        }
        if let Some((_, v)) = self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case("command")) {
            return refuse(format!("`command={v}`"));
        }
        for (what, v) in [("host", &self.host), ("user", &self.user)] {
            if v.as_deref().is_some_and(|v| v.starts_with('-')) {
                return refuse(format!("a {what} starting with `-` is an option to ssh"));
            }
        }
        Ok(())
    }

    pub fn family(&self) -> UriFamily {
        match self.driver.as_str() {
            "qemu" => UriFamily::Kvm,
            "xen" | "libxl" => UriFamily::Xen,
            "test" => UriFamily::Test,
            _ => UriFamily::Unknown,
        }
    }

    pub fn driver(&self) -> &str {
        &self.driver
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether the daemon runs on this machine (its local or a named unix
    /// socket), so files here are files there. libvirt's `test` driver lives
    /// in the process and has no machine: not local.
    pub fn is_local(&self) -> bool {
        matches!(self.family(), UriFamily::Kvm | UriFamily::Xen)
            && matches!(self.transport, Transport::Local | Transport::Unix)
    }

    /// Whether the URI names a host (`xen+ssh://root@xen7/system`), rather
    /// than a driver of this machine (`test:///default`, `qemu:///system`).
    pub fn names_a_host(&self) -> bool {
        self.host.is_some()
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// `/system`, `/session`, `/default`, `/` or empty.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query parameters, %-decoded, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The first value of parameter `name` (libvirt compares names without case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `None` for a bad port.
fn split_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    match port {
        None | Some("") => Some((host, None)),
        Some(p) => Some((host, Some(p.parse().ok()?))),
    }
}

/// `a=1&b=2` into %-decoded pairs (libvirt decodes names and values alike).
fn parse_query(q: &str) -> Option<Vec<(String, String)>> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k, true)?, decode(v, true)?))
        })
        .collect()
}

/// %-decoding; in a query, `+` is a space too (as in libvirt's parser).
fn decode(s: &str, query: bool) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b'+' if query => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[path = "uri_tests.rs"]
mod tests;
