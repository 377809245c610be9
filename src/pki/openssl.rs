//! `make-pki.sh`: the `openssl` commands (genpkey, req, x509 with extension files) that build a lab's PKI by
//! hand, as the seed lab's instructions do, generalised: read back from the certificates the lab made,
//! so the script asks openssl for the same subjects, keys, SANs, constraints and usages, and the same chain.

use std::fmt::Write as _;

use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2abbrev, oid_registry};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::lab::Lab;
use crate::pki::Pki;

/// A shell word in single quotes.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `-subj` of a name: `/C=US/O=Lab/CN=x`, `/` and `\` escaped as openssl reads them.
fn subj(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut out = String::new();
    for rdn in name.iter_rdn() {
        for attr in rdn.iter() {
            let key = oid2abbrev(attr.attr_type(), oid_registry())
                .map(str::to_string)
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = attr.as_str().unwrap_or_default();
            let value = value.replace('\\', "\\\\").replace('/', "\\/");
            let _ = write!(out, "/{key}={value}");
        }
    }
    if out.is_empty() {
        "/".into()
    } else {
        out
    }
}

/// A general name in openssl's configuration syntax (`DNS:x`, `IP:x`, ...); in a name constraint an
/// IP is an address and a mask.
fn general_name(g: &GeneralName<'_>, constraint: bool) -> Option<String> {
    Some(match g {
        GeneralName::DNSName(d) => format!("DNS:{d}"),
        GeneralName::RFC822Name(e) => format!("email:{e}"),
        GeneralName::URI(u) => format!("URI:{u}"),
        GeneralName::IPAddress(b) => {
            let ip = |b: &[u8]| -> Option<std::net::IpAddr> {
                match b.len() {
                    4 => Some(<[u8; 4]>::try_from(b).ok()?.into()),
                    16 => Some(<[u8; 16]>::try_from(b).ok()?.into()),
                    _ => None,
                }
            };
            if constraint {
                let half = b.len() / 2;
                format!("IP:{}/{}", ip(&b[..half])?, ip(&b[half..])?)
            } else {
                format!("IP:{}", ip(b)?)
            }
        }
        _ => return None,
    })
}

/// The extension file of a certificate, openssl's `x509 -extfile` syntax.
fn extensions(cert: &X509Certificate<'_>, root: bool) -> String {
    let mut out = String::new();
    let critical = |c: bool| if c { "critical, " } else { "" };
    if let Ok(Some(b)) = cert.basic_constraints() {
        let _ = writeln!(
            out,
            "basicConstraints = {}CA:{}{}",
            critical(b.critical),
            if b.value.ca { "TRUE" } else { "FALSE" },
            b.value
                .path_len_constraint
                .map_or(String::new(), |p| format!(", pathlen:{p}"))
        );
    }
    if let Ok(Some(k)) = cert.key_usage() {
        let u = k.value;
        let names: Vec<&str> = [
            (u.digital_signature(), "digitalSignature"),
            (u.non_repudiation(), "nonRepudiation"),
            (u.key_encipherment(), "keyEncipherment"),
            (u.data_encipherment(), "dataEncipherment"),
            (u.key_agreement(), "keyAgreement"),
            (u.key_cert_sign(), "keyCertSign"),
            (u.crl_sign(), "cRLSign"),
            (u.encipher_only(), "encipherOnly"),
            (u.decipher_only(), "decipherOnly"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        let _ = writeln!(
            out,
            "keyUsage = {}{}",
            critical(k.critical),
            names.join(", ")
        );
    }
    if let Ok(Some(e)) = cert.extended_key_usage() {
        let u = e.value;
        let names = super::inspect::eku_names(u);
        let _ = writeln!(
            out,
            "extendedKeyUsage = {}{}",
            critical(e.critical),
            names.join(", ")
        );
    }
    if let Ok(Some(s)) = cert.subject_alternative_name() {
        let names: Vec<String> = s
            .value
            .general_names
            .iter()
            .filter_map(|g| general_name(g, false))
            .collect();
        if !names.is_empty() {
            let _ = writeln!(
                out,
                "subjectAltName = {}{}",
                critical(s.critical),
                names.join(", ")
            );
        }
    }
    if let Ok(Some(n)) = cert.name_constraints() {
        let mut parts = Vec::new();
        for (kind, trees) in [
            ("permitted", &n.value.permitted_subtrees),
            ("excluded", &n.value.excluded_subtrees),
        ] {
            for t in trees.iter().flatten() {
                if let Some(g) = general_name(&t.base, true) {
                    parts.push(format!("{kind};{g}"));
                }
            }
        }
        let _ = writeln!(
            out,
            "nameConstraints = {}{}",
            critical(n.critical),
            parts.join(", ")
        );
    }
    out.push_str("subjectKeyIdentifier = hash\n");
    if !root {
        out.push_str("authorityKeyIdentifier = keyid\n");
    }
    out
}

/// `openssl genpkey` arguments for the key of a certificate.
fn genpkey(cert: &X509Certificate<'_>) -> Option<&'static str> {
    Some(match super::show::key_type(cert).as_str() {
        "ECDSA P-256" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
        "ECDSA P-384" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-384",
        "ECDSA P-521" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-521",
        "Ed25519" => "-algorithm ED25519",
        "RSA 2048" => "-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
        "RSA 3072" => "-algorithm RSA -pkeyopt rsa_keygen_bits:3072",
        "RSA 4096" => "-algorithm RSA -pkeyopt rsa_keygen_bits:4096",
        _ => return None,
    })
}

/// The script that rebuilds the PKI of `lab` (as `pki` made it) with openssl, in `openssl/NAME/` beside
/// itself. Authorities come before what they issue. Certificates loaded with `from:`, and what the
/// script cannot ask openssl for (validity in the past or future: `-days` counts from now; CRLs;
/// unknown critical extensions), are named in comments.
pub fn script(lab: &Lab, pki: &Pki) -> String {
    let mut out = format!(
        "#!/bin/sh\n# The openssl commands that build the PKI of lab `{}` by hand, as the seed lab does:\n# one directory per certificate under openssl/, beside this script. Written by `mtls-lab pki --openssl-script`.\nset -eu\ncd \"$(dirname \"$0\")\"\numask 077\n",
        lab.name.replace('\n', " ")
    );
    // Authorities in an order where each issuer comes first.
    let mut order: Vec<usize> = Vec::new();
    while order.len() < lab.authorities.len() {
        let before = order.len();
        for (i, a) in lab.authorities.iter().enumerate() {
            // The owner of a reused key (`key_of`) comes first too: its key file is copied.
            if !order.contains(&i)
                && a.issuer.is_none_or(|p| order.contains(&p))
                && a.key_of.is_none_or(|p| order.contains(&p))
            {
                order.push(i);
            }
        }
        if order.len() == before {
            break;
        }
    }
    let mut items: Vec<(String, Option<String>, bool, bool)> = order
        .iter()
        .map(|&i| {
            let a = &lab.authorities[i];
            (
                a.name.clone(),
                a.issuer.map(|p| lab.authorities[p].name.clone()),
                a.from.is_some(),
                true,
            )
        })
        .collect();
    items.extend(lab.certificates.iter().map(|c| {
        (
            c.name.clone(),
            c.issuer.map(|i| lab.authorities[i].name.clone()),
            c.from.is_some(),
            false,
        )
    }));
    for (name, issuer, loaded, authority) in items {
        let Some(issued) = pki
            .authorities
            .iter()
            .chain(pki.certificates.iter())
            .find(|i| i.name == name)
        else {
            continue;
        };
        let _ = writeln!(
            out,
            "\n# {} `{name}`{}",
            if authority {
                "authority"
            } else {
                "certificate"
            },
            issuer
                .as_ref()
                .map_or(", a root (self-signed)".to_string(), |i| format!(
                    ", issued by `{i}`"
                ))
        );
        if loaded {
            let _ = writeln!(
                out,
                "# loaded from files by the lab (`from:`): not made here"
            );
            continue;
        }
        let Ok((_, cert)) = X509Certificate::from_der(&issued.der) else {
            let _ = writeln!(out, "# its certificate could not be read: not made here");
            continue;
        };
        let Some(keyargs) = genpkey(&cert) else {
            let _ = writeln!(
                out,
                "# key type {} has no openssl recipe here: not made",
                super::show::key_type(&cert)
            );
            continue;
        };
        let v = cert.validity();
        let days = ((v.not_after.timestamp() - v.not_before.timestamp()) / 86_400).max(1);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if v.not_before.timestamp() > now + 86_400 || v.not_after.timestamp() < now {
            let _ = writeln!(
                out,
                "# the lab's validity ({} to {}) is not now: openssl x509 -days counts from now",
                v.not_before, v.not_after
            );
        }
        let unknown_critical = cert.extensions().iter().any(|e| {
            e.critical
                && matches!(
                    e.parsed_extension(),
                    x509_parser::extensions::ParsedExtension::UnsupportedExtension { .. }
                )
        });
        if unknown_critical {
            let _ = writeln!(
                out,
                "# the lab's unknown critical extension is not reproduced"
            );
        }
        // The digest the lab's certificate was signed with (its issuer's `signature`).
        let digest = match cert.signature_algorithm.algorithm.to_id_string().as_str() {
            "1.3.101.112" => "",
            "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => " -sha384",
            "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => " -sha512",
            _ => " -sha256",
        };
        let d = quote(&format!("openssl/{name}"));
        let f = |ext: &str| quote(&format!("openssl/{name}/{name}.{ext}"));
        let (key, ext, csr, crt) = (f("key"), f("ext"), f("csr"), f("crt"));
        let _ = writeln!(out, "mkdir -p {d}");
        let owner = lab
            .authorities
            .iter()
            .find(|a| authority && a.name == name)
            .and_then(|a| a.key_of)
            .map(|o| lab.authorities[o].name.clone());
        match owner {
            Some(o) => {
                let _ = writeln!(
                    out,
                    "cp {} {key}   # cross-signed: the key of `{o}`",
                    quote(&format!("openssl/{o}/{o}.key"))
                );
            }
            None => {
                let _ = writeln!(out, "openssl genpkey {keyargs} -out {key}");
            }
        }
        let _ = writeln!(
            out,
            "cat > {ext} <<'EXTENSIONS'\n{}EXTENSIONS",
            extensions(&cert, issuer.is_none())
        );
        let _ = writeln!(
            out,
            "openssl req -new -key {key} -subj {} -out {csr}",
            quote(&subj(cert.subject()))
        );
        match &issuer {
            None => {
                let _ = writeln!(
                    out,
                    "openssl x509 -req -in {csr} -key {key} -set_serial 0x{} -days {days}{digest} -extfile {ext} -out {crt}",
                    hex(cert.raw_serial())
                );
            }
            Some(i) => {
                let (ca, ca_key) = (
                    quote(&format!("openssl/{i}/{i}.crt")),
                    quote(&format!("openssl/{i}/{i}.key")),
                );
                let _ = writeln!(
                    out,
                    "openssl x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -set_serial 0x{} -days {days}{digest} -extfile {ext} -out {crt}",
                    hex(cert.raw_serial())
                );
            }
        }
        let _ = writeln!(out, "rm {csr}");
    }
    out.push_str("echo \"made openssl/\"\n");
    out
}

fn hex(bytes: &[u8]) -> String {
    let s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if s.is_empty() {
        "0".into()
    } else {
        s
    }
}
