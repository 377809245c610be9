//! Deriving the failures of a server under test: the certificates the built-in client presents instead
//! of its own (or none, or its own signed with another key).

use ::time::Duration;

use super::{Deriver, Edit, Failure, Tested};
use crate::lab::{CertRef, Chain, ClientAuth, EkuPurpose};

impl Deriver<'_> {
    /// Derives one failure of a server under test.
    pub(super) fn server_failure(&mut self, f: Failure) {
        let t = Tested::Server;
        let leaf = self.case.client.certificate.expect("checked by derive");
        // A client choosing by CA names may send any of its certificates: which one the failure should
        // start from is the server's CA names' choice, not the lab's.
        let choosing = self
            .case
            .client
            .select_by_ca_names
            .as_ref()
            .is_some_and(|l| l.len() > 1);
        if choosing && f != Failure::NoClientCertificate {
            return self.skip(
                f,
                t,
                "the client chooses among several certificates (`select: by_ca_names`): give it the one certificate to start from".into(),
            );
        }
        match f {
            Failure::NoClientCertificate => {
                return match self.server.client_auth {
                    ClientAuth::Required => self.push(f, t, |c| c.client.certificate = None),
                    _ => self.skip(
                        f,
                        t,
                        "the server's `client_auth: optional` accepts clients without a certificate"
                            .into(),
                    ),
                };
            }
            Failure::ClientUnknownCa => {
                let ca = self.unknown_ca();
                let cert = self.leaf(leaf, "unknown-ca", Some(ca), &|_| {});
                return self.push(f, t, |c| c.client.certificate = Some(cert));
            }
            Failure::ClientSelfSigned
                if self.server.trust.contains(&CertRef::Certificate(leaf)) =>
            {
                return self.skip(f, t, "the server trusts the client certificate itself (`trust`): a self-signed copy with its name is refused for its signature (`bad_signature`), not as a certificate of an unknown issuer".into());
            }
            Failure::ClientSelfSigned => {
                // The client's copy, signed with its own key: it needs no CA's.
                let cert = self.leaf(leaf, "self-signed", None, &|_| {});
                return self.push(f, t, |c| c.client.certificate = Some(cert));
            }
            Failure::ClientKeyMismatch => {
                // The certificate is the case's own; the key signing the handshake is another copy's
                // (same key type, so the signature scheme still fits; a loaded certificate's type is
                // read from its file). It needs no CA key, so it applies to a self-signed one too.
                let ca = self.unknown_ca();
                let other = self.leaf(leaf, "unknown-ca", Some(ca), &|_| {});
                return self.push(f, t, |c| c.client.key_of = Some(other));
            }
            _ => {}
        }
        let Some(issuer) = self.lab.certificates[leaf].issuer else {
            let why = "the client certificate is self-signed: no CA issues it".to_string();
            return self.skip(f, t, why);
        };
        let signs = self.can_sign(issuer);
        let no_key = || {
            "the client certificate's CA key is not available, so no new certificate can be issued from it"
                .to_string()
        };
        let clock = self.clock;
        let expired: Edit<'_> = &move |c| {
            c.not_before = clock - Duration::days(30);
            c.not_after = clock - Duration::days(1);
        };
        let not_yet: Edit<'_> = &move |c| {
            c.not_before = clock + Duration::days(1);
            c.not_after = clock + Duration::days(30);
        };
        let with_cert = |d: &mut Self, f, cert: usize| {
            d.push(f, t, |c| c.client.certificate = Some(cert));
        };
        match f {
            Failure::ClientRogueCa => match self
                .anchor(leaf, &self.case.client.chain, &self.server.trust, issuer)
                .and_then(|a| self.rogue_ca(a))
            {
                Ok(ca) => {
                    let cert = self.leaf(leaf, "rogue-ca", Some(ca), &|_| {});
                    with_cert(self, f, cert);
                }
                Err(why) => self.skip(f, t, why),
            },
            Failure::ClientExpired if signs => {
                let cert = self.leaf(leaf, "expired", Some(issuer), expired);
                with_cert(self, f, cert);
            }
            Failure::ClientNotYetValid if signs => {
                let cert = self.leaf(leaf, "not-yet-valid", Some(issuer), not_yet);
                with_cert(self, f, cert);
            }
            Failure::ClientServerAuthOnly if signs => {
                let cert = self.leaf(leaf, "server-auth", Some(issuer), &|c| c.eku = Some(vec![EkuPurpose::ServerAuth]));
                with_cert(self, f, cert);
            }
            Failure::ClientCaCertificate if self.openssl(t) => self.skip(
                f,
                t,
                "OpenSSL accepts a cA=TRUE certificate as the end entity by design (docs/catalogue.md, `ca-as-leaf`): not a mistake of the program".into(),
            ),
            Failure::ClientCaCertificate if self.implementation_unknown() => self.skip(
                f,
                t,
                "whether a CA certificate is refused as a client certificate depends on the TLS library: rustls refuses it, OpenSSL accepts it by design; the implementation of this server is unknown".into(),
            ),
            Failure::ClientCaCertificate if signs => {
                let cert = self.leaf(leaf, "ca", Some(issuer), &|c| c.ca = true);
                with_cert(self, f, cert);
            }
            Failure::ClientRevoked if signs => match self.revocable(issuer, self.server.revocation.as_ref(), "server") {
                Ok(()) => {
                    let cert = self.leaf(leaf, "revoked", Some(issuer), &|_| {});
                    self.revoke(issuer, cert);
                    with_cert(self, f, cert);
                }
                Err(why) => self.skip(f, t, why),
            },
            Failure::ClientIntermediateLeftOut => {
                if self.lab.authorities[issuer].issuer.is_none() {
                    self.skip(f, t, "the client certificate has no intermediate: its issuer is a root".into());
                } else if self.server.trust.contains(&crate::lab::CertRef::Authority(issuer)) {
                    self.skip(f, t, "the server trusts the client's intermediate itself".into());
                } else {
                    self.push(f, t, |c| c.client.chain = Chain::Leaf);
                }
            }
            Failure::ClientKeyMismatch if self.unreadable(leaf).is_some() => {
                let why = self.unreadable(leaf).unwrap_or_default();
                self.skip(f, t, format!("the client certificate's key type cannot be read: {why}"));
            }
            _ => self.skip(f, t, no_key()),
        }
    }
}
