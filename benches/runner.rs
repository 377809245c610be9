//! Speed figures for the README: key generation per key type, a lab's PKI, and handshakes per case.
//!
//! `cargo bench --bench runner` prints one line per figure (median of several rounds); `cargo bench
//! --bench runner -- seed` only the seed lab's cold and warm runs (the whole `mtls-lab run` command:
//! cold with an empty key cache or a new `--pki` directory, warm with the one the run before filled).
//! These are figures, not assertions: shared machines are noisy.

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

/// The CPU time (user and system) of this process's waited-for children so far, from `/proc/self/stat`
/// (`cutime`, `cstime`, in USER_HZ: hundredths of a second on Linux); zero where it cannot be read.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends with the last `)`): state is field 3, cutime 16, cstime 17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(12).copied().unwrap_or(0) + fields.get(13).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// `mtls-lab run labs/seed-mtls.yaml` with its key cache in `cache` and `extra` arguments; its wall
/// time and CPU time.
fn seed_run(cache: &Path, extra: &[&str]) -> (Duration, Duration) {
    let cpu = children_cpu();
    let t = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mtls-lab"))
        .args(["run", "labs/seed-mtls.yaml"])
        .args(extra)
        .env("XDG_CACHE_HOME", cache)
        .output()
        .expect("mtls-lab");
    let elapsed = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, children_cpu().saturating_sub(cpu))
}

/// The seed lab run cold and warm: with the key cache, and with `--pki DIR`; wall time (median) and
/// CPU time (mean: the tick is 10 ms).
fn seed_cold_and_warm(rounds: usize) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = |v: &[(Duration, Duration)]| {
        v.iter().map(|(_, c)| c.as_secs_f64() * 1e3).sum::<f64>() / v.len() as f64
    };
    let mut rows = Vec::new();
    for pki in [false, true] {
        let (mut cold, mut warm) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let dir = tempfile::tempdir().expect("temporary directory");
            let cache = dir.path().join("cache");
            let pki_dir = dir.path().join("pki").display().to_string();
            let extra: Vec<&str> = if pki { vec!["--pki", &pki_dir] } else { vec![] };
            cold.push(seed_run(&cache, &extra));
            warm.push(seed_run(&cache, &extra));
        }
        let (cold_cpu, warm_cpu) = (mean(&cold), mean(&warm));
        let cold_wall = ms(median(cold.iter().map(|(w, _)| *w).collect()));
        let warm_wall = ms(median(warm.iter().map(|(w, _)| *w).collect()));
        let how = if pki { "--pki DIR" } else { "key cache" };
        rows.push((
            format!("seed lab cold ({how})"),
            cold_wall,
            cold_cpu,
            String::new(),
        ));
        rows.push((
            format!("seed lab warm ({how})"),
            warm_wall,
            warm_cpu,
            format!(
                "  ({:.1} % of cold; CPU {:.1} %)",
                100.0 * warm_wall / cold_wall,
                100.0 * warm_cpu / cold_cpu
            ),
        ));
    }
    for (what, wall, cpu, note) in rows {
        println!("{what:<34} {wall:>10.1}ms  CPU {cpu:>7.1}ms{note}");
    }
}

fn main() {
    println!("{:<34} {:>12}", "figure", "median");
    if std::env::args().any(|a| a == "seed") {
        seed_cold_and_warm(7);
        return;
    }
    seed_cold_and_warm(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
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
