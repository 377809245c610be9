//! Deriving the failures of a client under test: the built-in servers presenting copies of the server's
//! certificate (expired, for another name, from another CA, …) instead of its own.

use ::time::Duration;

use super::{Deriver, Failure, Tested};
use crate::lab::{Chain, EkuPurpose, San};

impl Deriver<'_> {
    /// Derives one failure of a client under test.
    pub(super) fn client_failure(&mut self, f: Failure) {
        let t = Tested::Client;
        let leaf = self.server.certificate;
        let clock = self.clock;
        let on = |d: &mut Self, f: Failure, suffix: &str, cert: usize, chain: Chain| {
            let s = d.server_with(suffix, cert, chain);
            d.push(f, t, |c| c.server = s);
        };
        match f {
            Failure::ServerUnknownCa => {
                let ca = self.unknown_ca();
                let cert = self.leaf(leaf, "unknown-ca", Some(ca), &|_| {});
                return on(self, f, "unknown-ca", cert, Chain::Full);
            }
            Failure::ServerSelfSigned
                if self
                    .case
                    .client
                    .trust
                    .contains(&crate::lab::CertRef::Certificate(leaf)) =>
            {
                return self.skip(f, t, "the client trusts the server certificate itself (`trust`): a self-signed copy with its name is refused for its signature (`bad_signature`), not as a certificate of an unknown issuer".into());
            }
            Failure::ServerSelfSigned => {
                // The server's copy, signed with its own key.
                let cert = self.leaf(leaf, "self-signed", None, &|_| {});
                return on(self, f, "self-signed", cert, Chain::Full);
            }
            _ => {}
        }
        let Some(issuer) = self.lab.certificates[leaf].issuer else {
            let why = "the server certificate is self-signed: no CA issues it".to_string();
            return self.skip(f, t, why);
        };
        let signs = self.can_sign(issuer);
        // A copy issued by the same CA is sent with the server's own chain (`chain:`, such as a
        // cross-certificate a client needs to reach its anchor), so only the copy's fault differs.
        let same = self.server.chain.clone();
        match f {
            Failure::ServerExpired if signs => {
                let cert = self.leaf(leaf, "expired", Some(issuer), &move |c| {
                    c.not_before = clock - Duration::days(30);
                    c.not_after = clock - Duration::days(1);
                });
                on(self, f, "expired", cert, same);
            }
            Failure::ServerNotYetValid if signs => {
                let cert = self.leaf(leaf, "not-yet-valid", Some(issuer), &move |c| {
                    c.not_before = clock + Duration::days(1);
                    c.not_after = clock + Duration::days(30);
                });
                on(self, f, "not-yet-valid", cert, same);
            }
            Failure::ServerOtherName if signs => {
                let cert = self.leaf(leaf, "other-name", Some(issuer), &|c| {
                    c.san = vec![San::Dns("other-name.battery.invalid".into())];
                    c.subject.common_name = Some("other-name.battery.invalid".into());
                });
                on(self, f, "other-name", cert, same);
            }
            Failure::ServerRogueCa => match self
                .anchor(leaf, &self.server.chain, &self.case.client.trust, issuer)
                .and_then(|a| self.rogue_ca(a))
            {
                Ok(ca) => {
                    let cert = self.leaf(leaf, "rogue-ca", Some(ca), &|_| {});
                    on(self, f, "rogue-ca", cert, Chain::Full);
                }
                Err(why) => self.skip(f, t, why),
            },
            Failure::ServerClientAuthOnly if signs => {
                let cert = self.leaf(leaf, "client-auth", Some(issuer), &|c| c.eku = Some(vec![EkuPurpose::ClientAuth]));
                on(self, f, "client-auth", cert, same);
            }
            Failure::ServerRevoked if signs => {
                match self.revocable(issuer, self.case.client.revocation.as_ref(), "client") {
                    Ok(()) => {
                        let cert = self.leaf(leaf, "revoked", Some(issuer), &|_| {});
                        self.revoke(issuer, cert);
                        on(self, f, "revoked", cert, same);
                    }
                    Err(why) => self.skip(f, t, why),
                }
            }
            Failure::ServerIntermediateLeftOut => {
                if self.lab.authorities[issuer].issuer.is_none() {
                    self.skip(f, t, "the server certificate has no intermediate: its issuer is a root".into());
                } else if self.case.client.command.is_none() && self.case.client.trust.contains(&crate::lab::CertRef::Authority(issuer)) {
                    self.skip(f, t, "the client trusts the server's intermediate itself".into());
                } else {
                    on(self, f, "leaf-only", leaf, Chain::Leaf);
                }
            }
            _ => self.skip(f, t, "the server certificate's CA key is not available, so no new certificate can be issued from it".into()),
        }
    }
}
