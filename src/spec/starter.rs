//! The starter lab `mtls-lab init` writes: the seed lab in miniature, with ECDSA keys so it runs in a blink.

/// The starter lab named `name`, with `$schema` pointing at `schema_path`.
pub fn starter_lab(name: &str, schema_path: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema={schema_path}
#
# A starter mutual-TLS lab: one CA, a server and a client certificate, a server
# that requires client certificates, and three cases. Run it with
#   mtls-lab run {name}.yaml
lab: {name}
description: >
  One CA signs a server and a client certificate; the server requires client
  certificates.

authorities:
  ca:
    subject: {{ O: {name} CA, CN: {name} Root CA }}

certificates:
  server:
    issuer: ca
    subject: {{ CN: localhost }}
    san: [dns:localhost, ip:127.0.0.1]
    usage: server
  client:
    issuer: ca
    subject: {{ O: {name}, CN: student }}
    usage: client

servers:
  web:
    certificate: server
    trust: [ca]
    client_auth: required

cases:
  - name: valid client is accepted
    client: {{ certificate: client, trust: [ca] }}
    expect: {{ outcome: accepted, server_saw: {{ CN: student }} }}

  - name: no client certificate is rejected by the server
    client: {{ trust: [ca] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required }}

  - name: a client that does not trust the CA rejects the server
    client: {{ certificate: client, trust: [] }}
    expect: {{ outcome: rejected, by: client, reason: unknown_issuer }}
"#
    )
}
