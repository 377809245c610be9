//! Speed figures for the README: key generation per key type, a lab's PKI, and handshakes per case.
//!
//! `cargo bench --bench runner` prints one line per figure (median of several rounds). These are
//! figures, not assertions: shared machines are noisy.

use std::path::Path;
use std::time::{Duration, Instant};

use mtls_lab::{lab, pki, run};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn lab_with_key(key: &str) -> lab::Lab {
    let yaml = format!(
        r#"
lab: bench-{key}
authorities:
  ca: {{ subject: {{ CN: Bench CA }}, key: {key} }}
certificates:
  server: {{ issuer: ca, subject: {{ CN: localhost }}, key: {key}, usage: server }}
  client: {{ issuer: ca, subject: {{ CN: alice }}, key: {key}, usage: client }}
servers:
  web: {{ certificate: server, trust: [ca] }}
cases:
  - name: accepted
    client: {{ certificate: client, trust: [ca] }}
    expect: accepted
  - name: no certificate
    client: {{ trust: [ca] }}
    expect: {{ outcome: rejected, by: server, reason: certificate_required }}
  - name: untrusted
    client: {{ certificate: client, trust: [] }}
    expect: {{ outcome: rejected, by: client, reason: unknown_issuer }}
"#
    );
    lab::parse(
        Path::new("bench.yaml"),
        &yaml,
        time::OffsetDateTime::now_utc(),
    )
    .expect("bench lab")
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("{:<34} {:>12}", "figure", "median");
    for (key, rounds) in [
        ("ecdsa-p256", 20),
        ("ecdsa-p384", 20),
        ("ed25519", 20),
        ("rsa2048", 5),
        ("rsa4096", 3),
    ] {
        let l = lab_with_key(key);
        let times = (0..rounds)
            .map(|_| {
                let t = Instant::now();
                pki::build(&l).expect("pki");
                t.elapsed()
            })
            .collect();
        println!(
            "{:<34} {:>10.1}ms",
            format!("PKI of 3 {key} keys"),
            median(times).as_secs_f64() * 1e3
        );
    }
    for key in ["ecdsa-p256", "rsa2048"] {
        let l = lab_with_key(key);
        let mut per_case = Vec::new();
        for _ in 0..10 {
            let r = rt.block_on(run::run_lab(&l));
            assert!(r.cases.iter().all(|c| c.status == run::Status::Passed));
            for c in &r.cases {
                per_case.push(Duration::from_millis(
                    c.observed.as_ref().map_or(0, |o| o.duration_ms),
                ));
            }
        }
        println!(
            "{:<34} {:>10.1}ms",
            format!("case (handshake + GET), {key}"),
            median(per_case).as_secs_f64() * 1e3
        );
    }
    let labs: Vec<lab::Lab> = std::fs::read_dir("labs")
        .expect("labs/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .flat_map(|p| lab::load_all(&p, time::OffsetDateTime::now_utc()).expect("lab"))
        .collect();
    let cases: usize = labs.iter().map(|l| l.cases.len()).sum();
    let t = Instant::now();
    let results = rt.block_on(run::run_all(labs, 2));
    let elapsed = t.elapsed();
    let passed = results
        .iter()
        .map(|r| r.count(run::Status::Passed))
        .sum::<usize>();
    println!(
        "{:<34} {:>10.1}ms  ({passed}/{cases} cases passed)",
        "run labs/ (2 jobs)",
        elapsed.as_secs_f64() * 1e3
    );
}
