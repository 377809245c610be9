//! Program output is kept bounded: 200 MB printed without a newline grows the peak RSS of this process
//! by far less than the output. A binary of its own, so that no other test's memory counts in the peak.

use std::time::Duration;

/// Peak resident memory of this process so far (kB), from /proc/self/status.
fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn output_without_newlines_is_kept_bounded() {
    use mtls_lab::peer::process::{CommandSpec, MAX_LINE, MAX_STDOUT};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let before = vm_hwm_kb();
    let spec = CommandSpec {
        argv: vec![
            "sh".into(),
            "-c".into(),
            "head -c 200000000 /dev/zero | tr '\\0' 'a'; echo; echo done".into(),
        ],
        cwd: None,
        env: Vec::new(),
    };
    let run = rt
        .block_on(mtls_lab::peer::run_client(&spec, Duration::from_secs(120)))
        .unwrap();
    let growth_kb = vm_hwm_kb().saturating_sub(before);
    eprintln!("peak RSS growth reading 200 MB without newlines: {growth_kb} kB");
    assert_eq!(run.code, Some(0));
    assert_eq!(run.stdout.len(), MAX_STDOUT);
    assert_eq!(run.tail.len(), 2);
    let long = &run.tail[0];
    let (kept, note) = long.split_at(MAX_LINE);
    assert_eq!(kept, "a".repeat(MAX_LINE));
    assert_eq!(
        note,
        format!(" … [line cut: {} more bytes]", 200_000_000 - MAX_LINE)
    );
    assert_eq!(run.tail[1], "done");
    assert!(
        growth_kb < 100 * 1024,
        "reading the output grew the peak RSS by {growth_kb} kB"
    );
}
