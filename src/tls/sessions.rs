//! TLS sessions across cases: each built-in server's session cache and ticket keys (shared by servers
//! that share sessions), bound to the server's client-certificate policy the way OpenSSL's session ID
//! context binds them; and each built-in client's session store, kept for a later case that resumes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{ClientSessionStore, ResolvesClientCert};
use rustls::server::{ProducesTickets, StoresServerSessions};

use crate::lab::Server;
use crate::tls::negotiated::SharedNotes;

/// The sessions of one lab run: the servers' caches and ticket keys by session group, the clients'
/// stores by case.
#[derive(Default)]
pub struct SessionStores {
    servers: Mutex<HashMap<usize, ServerSessions>>,
    clients: Mutex<HashMap<String, ClientSessions>>,
}

impl std::fmt::Debug for SessionStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionStores")
    }
}

/// A server's session cache and ticket producer, as its configuration takes them.
pub type ServerSessionParts = (Arc<dyn StoresServerSessions>, Arc<dyn ProducesTickets>);

/// A server group's session cache and ticket keys.
#[derive(Clone)]
struct ServerSessions {
    cache: Arc<dyn StoresServerSessions>,
    tickets: Arc<dyn ProducesTickets>,
}

impl SessionStores {
    /// The session cache and ticket producer of `server`: its group's (created on first use), wrapped so
    /// that a session resumes only on a server with the same client-certificate policy.
    ///
    /// # Errors
    /// The ticket keys could not be generated (the system's random source failed).
    pub fn for_server(&self, server: &Server) -> Result<ServerSessionParts, rustls::Error> {
        // A panic elsewhere while holding the lock leaves the map as it was: still usable.
        let mut servers = self
            .servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let shared = match servers.get(&server.sessions.group) {
            Some(s) => s.clone(),
            None => {
                let s = ServerSessions {
                    cache: rustls::server::ServerSessionMemoryCache::new(256),
                    tickets: rustls::crypto::aws_lc_rs::Ticketer::new()?,
                };
                servers.insert(server.sessions.group, s.clone());
                s
            }
        };
        let context = policy_context(server);
        let tickets: Arc<dyn ProducesTickets> = if server.sessions.tickets {
            Arc::new(ContextTickets {
                inner: shared.tickets,
                context: context.clone(),
            })
        } else {
            Arc::new(NoTickets)
        };
        Ok((
            Arc::new(ContextCache {
                inner: shared.cache,
                context,
            }),
            tickets,
        ))
    }

    /// What the client of case `case` resumes with: its session store, verifier, certificate resolver
    /// and notes, when that case's client was configured.
    pub fn client(&self, case: &str) -> Option<ClientSessions> {
        self.clients.lock().ok()?.get(case).cloned()
    }

    /// Keeps what the client of case `case` resumes with, for a later case.
    pub fn keep_client(&self, case: &str, client: ClientSessions) {
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(case.to_string(), client);
        }
    }
}

/// A built-in client's sessions, and what rustls requires to resume them: the same verifier and
/// certificate resolver (it binds a session to both).
#[derive(Clone)]
pub struct ClientSessions {
    pub store: Arc<dyn ClientSessionStore>,
    /// `None` for a client trusting nothing (rustls's own verifier).
    pub verifier: Option<Arc<dyn ServerCertVerifier>>,
    pub resolver: Arc<dyn ResolvesClientCert>,
    pub notes: SharedNotes,
}

/// What a session made on `server` is bound to: its client-certificate policy (whether it asks, whom it
/// trusts, how it checks revocation). A session made under another policy does not resume.
fn policy_context(server: &Server) -> Vec<u8> {
    let policy = format!(
        "{:?}|{:?}|{:?}",
        server.client_auth, server.trust, server.revocation
    );
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, policy.as_bytes())
        .as_ref()
        .to_vec()
}

/// A session cache whose keys carry the policy context: a server under another policy never finds them.
#[derive(Debug)]
struct ContextCache {
    inner: Arc<dyn StoresServerSessions>,
    context: Vec<u8>,
}

impl ContextCache {
    fn key(&self, key: &[u8]) -> Vec<u8> {
        [self.context.as_slice(), key].concat()
    }
}

impl StoresServerSessions for ContextCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.inner.put(self.key(&key), value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(&self.key(key))
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.take(&self.key(key))
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

/// Tickets that carry the policy context inside their sealed contents: a server under another policy
/// opens them and refuses them.
#[derive(Debug)]
struct ContextTickets {
    inner: Arc<dyn ProducesTickets>,
    context: Vec<u8>,
}

impl ProducesTickets for ContextTickets {
    fn enabled(&self) -> bool {
        self.inner.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.inner.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.inner
            .encrypt(&[self.context.as_slice(), plain].concat())
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let plain = self.inner.decrypt(cipher)?;
        plain
            .strip_prefix(self.context.as_slice())
            .map(<[u8]>::to_vec)
    }
}

/// No stateless tickets (rustls's default): sessions resume from the cache.
#[derive(Debug)]
struct NoTickets;

impl ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }

    fn lifetime(&self) -> u32 {
        0
    }

    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}
