//! Names a lab writes: subject alternative names (`dns:`, `ip:`, `uri:`, `email:`) and name-constraint subtrees.

use std::net::IpAddr;

/// Why a SAN or a name-constraint subtree does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// `ip:ADDRESS` without `/PREFIX` in a subtree.
    #[error("`{value}` needs a prefix length, e.g. `10.0.0.0/8`")]
    NoPrefix { value: String },
    /// A `dns:` value that is not a DNS name.
    #[error("`{value}` is not a DNS name")]
    NotDns { value: String },
    /// An `email:` value without `@`.
    #[error("`{value}` is not an email address")]
    NotEmail { value: String },
    /// An `ip:` value that is not an IP address.
    #[error("`{value}` is not an IP address")]
    NotIp { value: String },
    /// A prefix length that is not a number.
    #[error("`{value}` is not a prefix length")]
    NotPrefix { value: String },
    /// A subtree without a known `dns:`, `ip:` or `email:` prefix.
    #[error("`{value}` is not a name constraint: write `dns:lab.test`, `ip:10.0.0.0/8` or `email:lab.test`")]
    NotSubtree { value: String },
    /// A `uri:` value without a scheme.
    #[error("`{value}` is not a URI (no scheme)")]
    NotUri { value: String },
    /// A prefix longer than the address.
    #[error("prefix /{prefix} is longer than {max} bits")]
    PrefixTooLong { prefix: u8, max: u8 },
}

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
    ///
    /// # Errors
    /// [`NameError`]: not one of these forms, or a value that is not a DNS name, an address or a prefix.
    pub fn parse(s: &str) -> Result<Subtree, NameError> {
        let s = s.trim();
        match s.split_once(':') {
            Some(("dns", v)) if valid_dns(v.trim_start_matches('.')) => {
                Ok(Subtree::Dns(v.to_string()))
            }
            Some(("dns", v)) => Err(NameError::NotDns {
                value: v.to_string(),
            }),
            Some(("email", v)) if !v.is_empty() => Ok(Subtree::Email(v.to_string())),
            Some(("ip", v)) => {
                let (addr, prefix) = v.rsplit_once('/').ok_or_else(|| NameError::NoPrefix {
                    value: v.to_string(),
                })?;
                let addr: IpAddr = addr.parse().map_err(|_| NameError::NotIp {
                    value: addr.to_string(),
                })?;
                let prefix: u8 = prefix.parse().map_err(|_| NameError::NotPrefix {
                    value: prefix.to_string(),
                })?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                if prefix > max {
                    return Err(NameError::PrefixTooLong { prefix, max });
                }
                Ok(Subtree::Ip(addr, prefix))
            }
            _ => Err(NameError::NotSubtree {
                value: s.to_string(),
            }),
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
    ///
    /// # Errors
    /// [`NameError`]: a value that is not a DNS name, an IP address, a URI (with a scheme) or an email address.
    pub fn parse(s: &str) -> Result<San, NameError> {
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
            "dns" => Err(NameError::NotDns {
                value: value.to_string(),
            }),
            "ip" => value.parse().map(San::Ip).map_err(|_| NameError::NotIp {
                value: value.to_string(),
            }),
            "uri" if value.contains(':') => Ok(San::Uri(value.to_string())),
            "uri" => Err(NameError::NotUri {
                value: value.to_string(),
            }),
            _ if value.contains('@') => Ok(San::Email(value.to_string())),
            _ => Err(NameError::NotEmail {
                value: value.to_string(),
            }),
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
