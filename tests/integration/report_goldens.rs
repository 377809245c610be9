//! Golden files for every report format (`--report-json`, `--report-junit`, `--report-tap`,
//! `--report-gradescope`, `--report-classroom`) on three inputs — the seed lab (all pass), a lab with a
//! failed case, and a graded submission (checks, points, a hidden check, a skipped case) — and for
//! `mtls-lab list --format json labs/`.
//!
//! Golden files live in `tests/golden/report/` and `tests/golden/list/`;
//! `UPDATE_GOLDEN=1 cargo test --test report_goldens` rewrites them (never when `CI` is set).
//!
//! What varies from run to run is normalised before comparing (see [`normalise`]): durations, times
//! and timestamps (a battery's copies are dated from the run's clock), random serial numbers of generated certificates, ephemeral ports, the checkout
//! and temporary directories, and the crate version.

use std::path::{Path, PathBuf};

use crate::common;

use common::{mtls, root};

/// The report options of `mtls-lab run` and the suffix of each one's golden file.
const FORMATS: [(&str, &str); 5] = [
    ("--report-json", "json"),
    ("--report-junit", "junit.xml"),
    ("--report-tap", "tap"),
    ("--report-gradescope", "gradescope.json"),
    ("--report-classroom", "classroom.json"),
];

fn report_dir() -> PathBuf {
    root().join("tests/golden/report")
}

/// Runs `mtls-lab run ARGS` from the crate root with every report, checks the exit code, and compares
/// each report (normalised) with `tests/golden/report/NAME.SUFFIX`.
fn check_reports(name: &str, args: &[&str], exit: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let paths: Vec<String> = FORMATS
        .iter()
        .map(|(_, suffix)| {
            tmp.path()
                .join(format!("report.{suffix}"))
                .display()
                .to_string()
        })
        .collect();
    let mut all: Vec<&str> = vec!["run"];
    all.extend_from_slice(args);
    for ((flag, _), path) in FORMATS.iter().zip(&paths) {
        all.push(flag);
        all.push(path);
    }
    let out = mtls(&root(), &all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(exit),
        "mtls-lab {all:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stdout.contains("PRIVATE KEY"),
        "the console must never show a private key"
    );
    let mut mismatches = Vec::new();
    for ((flag, suffix), path) in FORMATS.iter().zip(&paths) {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{flag}: {path} was not written: {e}\nstderr:\n{stderr}"));
        assert!(
            !text.contains("PRIVATE KEY"),
            "{flag}: a report must never contain a private key:\n{text}"
        );
        let golden = report_dir().join(format!("{name}.{suffix}"));
        if let Err(m) = compare(&golden, &normalise(&text, Some(tmp.path()))) {
            mismatches.push(m);
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} report(s) of `{name}` differ from their golden files \
         (if the change is intended: UPDATE_GOLDEN=1 cargo test --test report_goldens):\n\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn seed_lab_reports_are_golden() {
    check_reports("seed-mtls", &["labs/seed-mtls.yaml"], 0);
}

#[test]
fn failed_case_reports_are_golden() {
    check_reports("wrong-reason", &["tests/golden/run/wrong-reason.yaml"], 1);
}

#[test]
fn graded_submission_reports_are_golden() {
    let _turn = crate::common::seed_port();
    // The seed grader on the submission whose server certificate has no SAN: a failed check, a skipped
    // case, a hidden check, points, and the submission's own server.py and client.py (on port 4443).
    check_reports(
        "grade-seed-no-san",
        &[
            "labs/grade-seed/",
            "--var",
            "submission=tests/fixtures/seed/no-san",
        ],
        1,
    );
}

#[test]
fn list_json_is_golden() {
    let out = mtls(&root(), &["list", "--format", "json", "labs/"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("PRIVATE KEY"));
    if let Err(m) = compare(
        &root().join("tests/golden/list/labs.json"),
        &normalise(&stdout, None),
    ) {
        panic!(
            "(if the change is intended: UPDATE_GOLDEN=1 cargo test --test report_goldens)\n{m}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// Normalising what varies between runs.

/// Replaces what varies between runs with fixed placeholders:
/// - the checkout directory with `<ROOT>` and the report directory with `<TMP>`;
/// - the crate version in the JSON report's `tool` with `<VERSION>`;
/// - JSON durations and times (`duration_ms`, `duration`, `execution_time`, `verification_time`) with `0`
///   or `"<TIME>"`, JUnit `time="…"` attributes with `time="0"`;
/// - random serial numbers (8 octets or more: generated certificates) with `"<RANDOM SERIAL>"`; short
///   serials are the ones a lab or a fixture fixes and stay;
/// - ephemeral ports (32768 and above) after `127.0.0.1:`, `localhost:` and `[::1]:` with `<PORT>`.
pub(crate) fn normalise(text: &str, tmp: Option<&Path>) -> String {
    let mut text = text
        .replace(&root().display().to_string(), "<ROOT>")
        .replace(
            concat!("\"mtls-lab ", env!("CARGO_PKG_VERSION"), "\""),
            "\"mtls-lab <VERSION>\"",
        );
    if let Some(tmp) = tmp {
        text = text.replace(&tmp.display().to_string(), "<TMP>");
        // Canonical too, in case the temporary directory is reached through a symbolic link.
        if let Ok(canonical) = tmp.canonicalize() {
            text = text.replace(&canonical.display().to_string(), "<TMP>");
        }
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let line = json_value(line, "duration_ms", "0");
        let line = json_value(&line, "duration", "0");
        let line = json_value(&line, "execution_time", "0");
        let line = json_value(&line, "verification_time", "\"<TIME>\"");
        let line = random_serial(&line);
        let line = xml_attribute(&line, "time", "0");
        let line = python_source_line(&line);
        let line = battery_times(&line);
        out.push_str(&ports(&line));
    }
    out
}

/// A battery's expired and not-yet-valid copies are dated from the run's clock, which their
/// explanations name (`expired at 2026-11-29T11:01:26Z (verified at …)`): on a line naming a derived
/// certificate (`NAME.battery-…`), each RFC 3339 UTC time is `<TIME>`.
fn battery_times(line: &str) -> String {
    if !line.contains(".battery-") {
        return line.to_string();
    }
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < bytes.len() {
        let fits = bytes.len() - i >= shape.len()
            && shape.iter().zip(&bytes[i..]).all(|(s, b)| match s {
                b'd' => b.is_ascii_digit(),
                s => s == b,
            });
        if fits {
            out.push_str("<TIME>");
            i += shape.len();
        } else {
            let ch = line[i..].chars().next().unwrap_or_default();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Python's SSL errors name the line of its C source (`(_ssl.c:1006)`), which changes between Python
/// versions: `(_ssl.c:<LINE>)`.
fn python_source_line(line: &str) -> String {
    let marker = "(_ssl.c:";
    let Some(start) = line.find(marker) else {
        return line.to_string();
    };
    let rest = &line[start + marker.len()..];
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || !rest[digits..].starts_with(')') {
        return line.to_string();
    }
    format!("{}{marker}<LINE>{}", &line[..start], &rest[digits..])
}

/// On a pretty-printed JSON line `"key": value[,]`, replaces the value.
fn json_value(line: &str, key: &str, placeholder: &str) -> String {
    let prefix = format!("\"{key}\": ");
    let indent = line.len() - line.trim_start().len();
    if !line[indent..].starts_with(&prefix) {
        return line.to_string();
    }
    let body = line.trim_end_matches(['\n', '\r']);
    let comma = if body.ends_with(',') { "," } else { "" };
    format!(
        "{}{prefix}{placeholder}{comma}{}",
        &line[..indent],
        &line[body.len()..]
    )
}

/// `"serial": "aa:bb:…"` with 8 or more octets: a serial a generator chose at random.
fn random_serial(line: &str) -> String {
    let trimmed = line.trim_start();
    let Some(rest) = trimmed.strip_prefix("\"serial\": \"") else {
        return line.to_string();
    };
    let value = rest.split('"').next().unwrap_or_default();
    if value.split(':').count() >= 8 {
        line.replacen(value, "<RANDOM SERIAL>", 1)
    } else {
        line.to_string()
    }
}

/// Replaces the value of every ` name="…"` attribute on the line.
fn xml_attribute(line: &str, name: &str, placeholder: &str) -> String {
    let start = format!(" {name}=\"");
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(&start) {
        let after = &rest[i + start.len()..];
        let Some(end) = after.find('"') else { break };
        out.push_str(&rest[..i + start.len()]);
        out.push_str(placeholder);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Replaces ephemeral ports (32768 and above, where Linux and most systems pick them) after a
/// loopback host; fixed ports a lab names (such as 4443) stay.
fn ports(line: &str) -> String {
    let mut out = line.to_string();
    for host in ["127.0.0.1:", "localhost:", "[::1]:"] {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(host) {
            let after = &rest[i + host.len()..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            result.push_str(&rest[..i + host.len()]);
            match after[..digits].parse::<u32>() {
                Ok(port) if port >= 32768 => result.push_str("<PORT>"),
                _ => result.push_str(&after[..digits]),
            }
            rest = &after[digits..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

#[test]
fn the_normaliser_replaces_what_varies() {
    let tmp = Some(Path::new("/tmp/.tmpAbC123"));
    let json = "  \"tool\": \"mtls-lab 0.0.0\",\n      \"duration_ms\": 902,\n      \"verification_time\": \"2026-01-01T00:00:00.1Z\",\n  \"execution_time\": 2\n    \"duration\": 17\n";
    let json = json.replace("0.0.0", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        normalise(&json, tmp),
        "  \"tool\": \"mtls-lab <VERSION>\",\n      \"duration_ms\": 0,\n      \"verification_time\": \"<TIME>\",\n  \"execution_time\": 0\n    \"duration\": 0\n"
    );
    assert_eq!(
        normalise(
            "\"serial\": \"42:48:8b:8c:92:43:b0:20:73:c7:0c:38:6b:85:36:1e\"\n\"serial\": \"0f:a1\",\n",
            tmp
        ),
        "\"serial\": \"<RANDOM SERIAL>\"\n\"serial\": \"0f:a1\",\n"
    );
    assert_eq!(
        normalise(
            "<testcase name=\"a\" line=\"3\" time=\"0.123\"> time=\"1.000\"\n",
            tmp
        ),
        "<testcase name=\"a\" line=\"3\" time=\"0\"> time=\"0\"\n"
    );
    assert_eq!(
        normalise(
            "refused 127.0.0.1:45123 and localhost:4443, wrote /tmp/.tmpAbC123/r.json\n",
            tmp
        ),
        "refused 127.0.0.1:<PORT> and localhost:4443, wrote <TMP>/r.json\n"
    );
}

// ---------------------------------------------------------------------------------------------------
// Comparing with a golden file.

/// Compares `actual` with the golden file, or rewrites the file under `UPDATE_GOLDEN=1` (never in CI).
/// On a difference, returns a message with a line diff.
pub(crate) fn compare(path: &Path, actual: &str) -> Result<(), String> {
    // Never rewrite golden files in CI: there they are only compared.
    if std::env::var_os("UPDATE_GOLDEN").is_some() && std::env::var_os("CI").is_none() {
        std::fs::create_dir_all(path.parent().unwrap()).expect("create the golden directory");
        std::fs::write(path, actual).expect("write golden file");
        return Ok(());
    }
    let shown = path.strip_prefix(root()).unwrap_or(path).display();
    let Ok(expected) = std::fs::read_to_string(path) else {
        return Err(format!(
            "missing golden file {shown} (run with UPDATE_GOLDEN=1); the output was:\n{actual}"
        ));
    };
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "--- {shown} (golden)\n+++ actual (normalised)\n{}",
        line_diff(&expected, actual)
    ))
}

/// A unified-style line diff with two lines of context (from the longest common subsequence).
fn line_diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (tag, golden line number, text)
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', i + 1, a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i + 1, a[i]));
            i += 1;
        } else {
            ops.push(('+', i + 1, b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 2;
    const MAX_LINES: usize = 120;
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    if changed.is_empty() {
        return format!(
            "the lines are the same; line endings or the final newline differ:\n  golden ends {:?}\n  actual ends {:?}\n",
            tail(expected),
            tail(actual)
        );
    }
    let mut out = String::new();
    let mut shown = 0;
    let mut last: Option<usize> = None;
    for (k, (tag, golden_line, text)) in ops.iter().enumerate() {
        let near = changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
        if !near {
            continue;
        }
        if last.is_none_or(|l| l + 1 != k) {
            out.push_str(&format!("@@ golden line {golden_line} @@\n"));
        }
        last = Some(k);
        out.push_str(&format!("{tag}{text}\n"));
        shown += 1;
        if shown >= MAX_LINES {
            out.push_str(&format!("… ({} changed line(s) in all)\n", changed.len()));
            break;
        }
    }
    out
}

/// The last 40 characters of a text.
fn tail(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(40)..].iter().collect()
}

#[test]
fn the_diff_shows_changed_lines_with_context() {
    let d = line_diff("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nD\ne\nf\ng\n");
    assert_eq!(d, "@@ golden line 2 @@\n b\n c\n-d\n+D\n e\n f\n");
    assert!(line_diff("a ›\n", "a ›").contains("final newline"));
}
