//! mtls-lab: declarative mutual-TLS labs.
//!
//! One pipeline, one folder a stage; each stage imports only the stages before it:
//!
//! ```text
//! spec  →  lab  →  pki  →  tls  →  peer  →  verdict  →  run  →  report
//! what     the      keys,   rustls   external  observe,   one lab,  console, JSON,
//! the      validated certs, configs, programs  judge,     one case  JUnit, TAP,
//! user     model     CRLs,  built-in (process  explain              Gradescope,
//! wrote              export server,  groups)                         Classroom
//!                           client
//! ```
//!
//! [`reason`] (reason codes, [`reason::Side`], [`reason::Outcome`]; the only module naming rustls and
//! webpki error variants) and [`diag`] (rustc-style rendering of input errors) are leaves every stage
//! may use. Only [`lab`] reads [`spec`]; later stages take the validated model. The command line is
//! the binary's `cli` module, beside the pipeline.

#![forbid(unsafe_code)]

pub mod diag;
pub mod reason;

pub mod spec;

pub mod lab;

pub mod pki;

pub mod tls;

pub mod peer;

pub mod verdict;

pub mod run;

pub mod report;

pub use spec::schema::{fragment_schema_json, schema_json};
