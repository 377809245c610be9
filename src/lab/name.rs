//! Names a lab writes: subject alternative names (`dns:`, `ip:`, `uri:`, `email:`) and name-constraint subtrees.

use std::net::IpAddr;

/// A subtree of a name constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subtree {
    Dns(String),
    Ip(IpAddr, u8),
    Email(String),
}

impl std::fmt::Display for Subtree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subtree::Dns(v) => write!(f, "dns:{v}"),
            Subtree::Ip(a, p) => write!(f, "ip:{a}/{p}"),
            Subtree::Email(v) => write!(f, "email:{v}"),
        }
    }
}

impl Subtree {
    /// Parses `dns:SUFFIX`, `ip:ADDRESS/PREFIX` or `email:DOMAIN`.
    pub fn parse(s: &str) -> Result<Subtree, String> {
        let s = s.trim();
        match s.split_once(':') {
            Some(("dns", v)) if valid_dns(v.trim_start_matches('.')) => Ok(Subtree::Dns(v.to_string())),
            Some(("dns", v)) => Err(format!("`{v}` is not a DNS name")),
            Some(("email", v)) if !v.is_empty() => Ok(Subtree::Email(v.to_string())),
            Some(("ip", v)) => {
                let (addr, prefix) = v
                    .rsplit_once('/')
                    .ok_or_else(|| format!("`{v}` needs a prefix length, e.g. `10.0.0.0/8`"))?;
                let addr: IpAddr = addr.parse().map_err(|_| format!("`{addr}` is not an IP address"))?;
                let prefix: u8 = prefix.parse().map_err(|_| format!("`{prefix}` is not a prefix length"))?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                if prefix > max {
                    return Err(format!("prefix /{prefix} is longer than {max} bits"));
                }
                Ok(Subtree::Ip(addr, prefix))
            }
            _ => Err(format!("`{s}` is not a name constraint: write `dns:lab.test`, `ip:10.0.0.0/8` or `email:lab.test`")),
        }
    }
}

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
    Uri(String),
    Email(String),
}

impl San {
    /// Parses `dns:x`, `ip:x`, `uri:x`, `email:x`, or a bare DNS name or IP address.
    pub fn parse(s: &str) -> Result<San, String> {
        let s = s.trim();
        let (kind, value) = match s.split_once(':') {
            Some((k, v)) if matches!(k, "dns" | "ip" | "uri" | "email") => (k, v),
            _ => match s.parse::<IpAddr>() {
                Ok(ip) => return Ok(San::Ip(ip)),
                Err(_) => ("dns", s),
            },
        };
        match kind {
            "dns" if valid_dns(value) => Ok(San::Dns(value.to_string())),
            "dns" => Err(format!("`{value}` is not a DNS name")),
            "ip" => value
                .parse()
                .map(San::Ip)
                .map_err(|_| format!("`{value}` is not an IP address")),
            "uri" if value.contains(':') => Ok(San::Uri(value.to_string())),
            "uri" => Err(format!("`{value}` is not a URI (no scheme)")),
            _ if value.contains('@') => Ok(San::Email(value.to_string())),
            _ => Err(format!("`{value}` is not an email address")),
        }
    }
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(v) => write!(f, "dns:{v}"),
            San::Ip(v) => write!(f, "ip:{v}"),
            San::Uri(v) => write!(f, "uri:{v}"),
            San::Email(v) => write!(f, "email:{v}"),
        }
    }
}

/// Whether `s` is a DNS name (a leading `*` label allowed), as SANs and `dns:` subtrees take it.
pub(crate) fn valid_dns(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').enumerate().all(|(i, label)| {
            (!label.is_empty() && label.len() <= 63 || (i == 0 && label == "*"))
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sans_parse_with_and_without_prefix() {
        assert_eq!(
            San::parse("dns:localhost").unwrap(),
            San::Dns("localhost".into())
        );
        assert_eq!(
            San::parse("127.0.0.1").unwrap(),
            San::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            San::parse("ip:::1").unwrap(),
            San::Ip("::1".parse().unwrap())
        );
        assert!(San::parse("ip:localhost").is_err());
        assert!(San::parse("dns:bad name").is_err());
    }
}
