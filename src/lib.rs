//! mtls-lab: declarative mutual-TLS labs.
//!
//! The pipeline, one module a stage: lab file ([`spec`], parsed by [`yaml`]) → validated model
//! ([`lab`]) → PKI ([`pki`]) → real handshakes ([`tls`], [`server`], [`client`], run by [`run`]) →
//! verdicts ([`reason`], [`verdict`]) → output ([`report`], [`diag`]); [`export`] writes the PKI as PEM
//! and PKCS#12 files; external peers (commands, running servers) are [`external`], their processes [`process`].

#![forbid(unsafe_code)]

pub mod certcheck;
pub mod check;
pub mod client;
pub mod diag;
pub mod explain;
pub mod export;
pub mod external;
pub mod identity;
pub mod lab;
pub mod pki;
pub mod process;
pub mod reason;
pub mod report;
pub mod run;
pub mod select;
pub mod server;
pub mod spec;
pub mod starter;
pub mod tls;
pub mod verdict;
pub mod yaml;

/// The JSON Schema of the lab format (draft-07), as committed in `schemas/lab.schema.json`.
pub fn schema_json() -> String {
    schema_of::<spec::LabFile>()
}

/// The JSON Schema of an included fragment (`_*.yaml`), as committed in `schemas/fragment.schema.json`.
pub fn fragment_schema_json() -> String {
    schema_of::<spec::Fragment>()
}

fn schema_of<T: schemars::JsonSchema>() -> String {
    let settings = schemars::generate::SchemaSettings::draft07();
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
