//! The battery matrix in every report (issue 16 item 3): on `labs/battery.yaml` (the built-in peers, every
//! derived failure refused for the right reason) and on the lax Python server (`ssl.CERT_NONE`: 8 accepted
//! wrongly, 3 skipped), each format — JSON, JUnit, TAP, Gradescope, Classroom, HTML — is golden
//! (`tests/golden/report/battery/`, normalised as in `report_goldens`; the HTML page's matrix only), and the
//! matrix's cells are read back from each format on its own terms and must be the same: peer, failure,
//! verdict, and the counts. The grading formats keep each derived case as a test with its points.

use std::collections::BTreeMap;

use mtls_lab::lab::battery::Failure;
use mtls_lab::report::battery::Verdict;

use crate::common::{mtls, root};
use crate::report_goldens::{compare, normalise};

/// `--report-FORMAT` and the suffix of each one's golden file.
const FORMATS: [(&str, &str); 6] = [
    ("--report-json", "json"),
    ("--report-junit", "junit.xml"),
    ("--report-tap", "tap"),
    ("--report-gradescope", "gradescope.json"),
    ("--report-classroom", "classroom.json"),
    ("--report-html", "html"),
];

const VERDICTS: [Verdict; 6] = [
    Verdict::RefusedRightReason,
    Verdict::RefusedOtherReason,
    Verdict::AcceptedWrongly,
    Verdict::Skipped,
    Verdict::NotDecided,
    Verdict::Hidden,
];

/// One cell of the matrix as a report gives it: (peer, failure key, verdict key).
type Cell = (String, String, String);

/// Runs `lab` with every report; checks the exit code and that no report holds a private key; returns
/// each report by suffix, normalised, and compares it with its golden file `name` (the HTML page: its
/// matrix) when there is one.
fn reports(name: Option<&str>, lab: &str, exit: i32) -> BTreeMap<&'static str, String> {
    reports_with(name, lab, exit, &[])
}

/// [`reports`], with `extra` arguments to `run`.
fn reports_with(
    name: Option<&str>,
    lab: &str,
    exit: i32,
    extra: &[&str],
) -> BTreeMap<&'static str, String> {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = vec!["run".to_string(), lab.to_string()];
    args.extend(extra.iter().map(|a| a.to_string()));
    for (flag, suffix) in FORMATS {
        args.push(flag.to_string());
        args.push(tmp.path().join(format!("r.{suffix}")).display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = mtls(&root(), &args);
    assert_eq!(
        out.status.code(),
        Some(exit),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut texts = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (flag, suffix) in FORMATS {
        let text = std::fs::read_to_string(tmp.path().join(format!("r.{suffix}")))
            .unwrap_or_else(|e| panic!("{flag} was not written: {e}"));
        assert!(!text.contains("PRIVATE KEY"), "{flag}: a private key");
        let text = times(&program_output(&normalise(&text, Some(tmp.path()))));
        let shown = if suffix == "html" {
            html_matrix(&text)
        } else {
            text.clone()
        };
        if let Some(name) = name {
            let golden = root().join(format!("tests/golden/report/battery/{name}.{suffix}"));
            if let Err(m) = compare(&golden, &shown) {
                mismatches.push(m);
            }
        }
        texts.insert(suffix, text);
    }
    assert!(
        mismatches.is_empty(),
        "(if intended: UPDATE_GOLDEN=1)\n{}",
        mismatches.join("\n")
    );
    texts
}

/// The times a run derives from its clock: RFC 3339 instants (`2026-11-29T11:06:37Z`, with or without
/// a fraction) become `<TIME>`; rustls's detail of an expired or not yet valid certificate gives the
/// verification time and the certificate's bound in UNIX seconds and their distance
/// (`verification time 1796036780 (UNIX), … (86400 seconds ago)`): each run of exactly ten digits becomes
/// `<UNIX>`, and `(N seconds` becomes `(<N> seconds`.
fn times(text: &str) -> String {
    let b = text.as_bytes();
    let shape = |at: usize, pattern: &[u8]| {
        at + pattern.len() <= b.len()
            && pattern.iter().zip(&b[at..]).all(|(p, c)| match p {
                b'd' => c.is_ascii_digit(),
                p => p == c,
            })
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let digit_before = i > 0 && b[i - 1].is_ascii_digit();
        if !digit_before && shape(i, b"dddd-dd-ddTdd:dd:dd") {
            let mut j = i + 19;
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            if b.get(j) == Some(&b'Z') {
                out.push_str("<TIME>");
                i = j + 1;
                continue;
            }
        }
        if !digit_before && b[i].is_ascii_digit() {
            let mut j = i;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if j - i == 10 {
                out.push_str("<UNIX>");
                i = j;
                continue;
            }
            if i > 0 && b[i - 1] == b'(' && b[j..].starts_with(b" seconds") {
                out.push_str("<N>");
                i = j;
                continue;
            }
            out.push_str(&text[i..j]);
            i = j;
            continue;
        }
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The lines a server program printed (`| …` under "the server command's output (last N lines):"):
/// Python's http.server logs each request with its time, on stderr, which interleaves with its stdout in
/// no fixed order. In a JSON string the rest of the string, in text each run of such lines, becomes
/// `[program output]`.
fn program_output(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_block = false;
    for line in text.split_inclusive('\n') {
        if let Some(i) = line.find("lines):\\n") {
            // A JSON string: up to its closing quote.
            let head = &line[..i + "lines):\\n".len()];
            let rest = &line[head.len()..];
            let mut end = rest.len();
            let mut escaped = false;
            for (k, c) in rest.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = k;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            out.push_str(head);
            out.push_str("[program output]");
            out.push_str(&rest[end..]);
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("| ") || trimmed.trim_end() == "|" {
            if !in_block {
                let indent = &line[..line.len() - trimmed.len()];
                out.push_str(&format!("{indent}| [program output]\n"));
            }
            in_block = true;
            continue;
        }
        in_block = false;
        out.push_str(line);
    }
    out
}

/// The page's battery matrices (`<div class="battery">` … `</table></div>`), one after the other.
fn html_matrix(page: &str) -> String {
    let mut out = String::new();
    let mut rest = page;
    while let Some(i) = rest.find("<div class=\"battery\"") {
        let end = rest[i..].find("</table></div>").unwrap() + i + "</table></div>".len();
        out.push_str(&rest[i..end]);
        out.push('\n');
        rest = &rest[end..];
    }
    out
}

fn failure_key(f: Failure) -> String {
    serde_json::to_value(f)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn failure_by_title(title: &str) -> Failure {
    *Failure::SERVER_SET
        .iter()
        .chain(Failure::CLIENT_SET)
        .find(|f| f.title() == title)
        .unwrap_or_else(|| panic!("no failure titled {title:?}"))
}

fn verdict_by_text(text: &str) -> Verdict {
    *VERDICTS
        .iter()
        .find(|v| v.text() == text)
        .unwrap_or_else(|| panic!("no verdict {text:?}"))
}

/// The expected matrix: per peer, its failures in order with their verdicts.
fn expected(batteries: &[(&str, Vec<(Failure, Verdict)>)]) -> Vec<Cell> {
    batteries
        .iter()
        .flat_map(|(peer, rows)| {
            rows.iter()
                .map(|(f, v)| (peer.to_string(), failure_key(*f), v.key().to_string()))
        })
        .collect()
}

/// The JSON value's `battery` (JSON report, Classroom) or `extra_data.battery` (Gradescope) as cells.
fn json_cells(battery: &serde_json::Value) -> Vec<Cell> {
    let mut out = Vec::new();
    for b in battery.as_array().expect("a battery array") {
        for r in b["rows"].as_array().unwrap() {
            out.push((
                b["peer"].as_str().unwrap().to_string(),
                r["failure"].as_str().unwrap().to_string(),
                r["verdict"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// JUnit: the `battery.*` properties of each testcase; and the testsuite's `system-out` table.
fn junit_cells(xml: &str) -> (Vec<Cell>, String) {
    let doc = roxmltree::Document::parse(xml).expect("JUnit is XML");
    let mut cells = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        assert!(names.insert(case.attribute("name").unwrap()), "duplicate");
        let prop = |name: &str| {
            case.descendants()
                .find(|p| p.has_tag_name("property") && p.attribute("name") == Some(name))
                .and_then(|p| p.attribute("value"))
                .map(str::to_string)
        };
        if let Some(verdict) = prop("battery.verdict") {
            cells.push((
                prop("battery.peer").unwrap(),
                prop("battery.failure").unwrap(),
                verdict,
            ));
            // The testcase's own system-out says the verdict (GitLab shows only this one).
            let out = case
                .children()
                .find(|c| c.has_tag_name("system-out"))
                .and_then(|c| c.text())
                .unwrap();
            let v = VERDICTS
                .iter()
                .find(|v| v.key() == cells.last().unwrap().2)
                .unwrap();
            assert!(out.contains(&format!("): {} — ", v.text())), "{out}");
        }
    }
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    // The testsuite's system-out comes after its testcases, as the JUnit schema orders them.
    let last = suite.children().rfind(|c| c.is_element()).unwrap();
    assert!(last.has_tag_name("system-out"));
    (cells, last.text().unwrap().to_string())
}

/// A text table (console, TAP comments, Gradescope output): per battery heading, the failure lines.
fn table_cells(table: &str) -> Vec<Cell> {
    let mut cells = Vec::new();
    let mut peer = String::new();
    for line in table.lines() {
        if let Some(h) = line.strip_prefix("battery: ") {
            peer = h.rsplit(" — ").next().unwrap().to_string();
            continue;
        }
        let Some(row) = line.strip_prefix("  ") else {
            continue;
        };
        let Some(f) = Failure::SERVER_SET
            .iter()
            .chain(Failure::CLIENT_SET)
            .filter(|f| row.starts_with(f.title()))
            .max_by_key(|f| f.title().len())
        else {
            continue; // the counts line
        };
        let rest = row[f.title().len()..].trim_start();
        let v = VERDICTS
            .iter()
            .find(|v| rest.starts_with(v.text()))
            .unwrap_or_else(|| panic!("no verdict in {line:?}"));
        cells.push((peer.clone(), failure_key(*f), v.key().to_string()));
    }
    cells
}

/// TAP: the matrix in the comment lines; the failed derived cases' `battery:` diagnostics.
fn tap_cells(tap: &str) -> (Vec<Cell>, Vec<Cell>, String) {
    let table: String = tap
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| !l.starts_with("score:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut diagnosed = Vec::new();
    let lines: Vec<&str> = tap.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if *l == "  battery:" {
            let value = |k: &str, j: usize| {
                lines[i + j]
                    .strip_prefix(&format!("    {k}: "))
                    .unwrap()
                    .trim_matches('"')
                    .to_string()
            };
            diagnosed.push((value("peer", 1), value("failure", 2), value("verdict", 3)));
        }
    }
    (table_cells(&table), diagnosed, table)
}

/// HTML: the matrix parsed as XML; each cell links to the derived case's article, which exists and is
/// that case.
fn html_cells(page: &str) -> Vec<Cell> {
    let grids = format!("<grids>{}</grids>", html_matrix(page));
    let doc = roxmltree::Document::parse(&grids).expect("the matrix is XHTML");
    let mut cells = Vec::new();
    for table in doc.descendants().filter(|n| n.has_tag_name("table")) {
        let peers: Vec<String> = table
            .descendants()
            .filter(|n| n.has_tag_name("thead"))
            .flat_map(|h| h.descendants().filter(|n| n.has_tag_name("th")).skip(1))
            .map(|th| th.first_child().unwrap().text().unwrap().to_string())
            .collect();
        let body = table.children().find(|n| n.has_tag_name("tbody")).unwrap();
        let mut by_peer: Vec<Vec<Cell>> = vec![Vec::new(); peers.len()];
        for tr in body.children().filter(|n| n.has_tag_name("tr")) {
            let th = tr.children().find(|n| n.has_tag_name("th")).unwrap();
            let failure = failure_by_title(th.text().unwrap());
            for (k, td) in tr.children().filter(|n| n.has_tag_name("td")).enumerate() {
                let Some(v) = td.attribute("data-verdict") else {
                    continue;
                };
                assert_eq!(td.attribute("class"), Some(format!("v-{v}").as_str()));
                let a = td.children().find(|n| n.has_tag_name("a")).unwrap();
                assert_eq!(verdict_by_text(a.text().unwrap()).key(), v);
                let id = a.attribute("href").unwrap().strip_prefix('#').unwrap();
                let start = page
                    .find(&format!("<article class=\"case\" id=\"{id}\""))
                    .unwrap_or_else(|| panic!("no article {id}"));
                let h3 = &page[start..start + page[start..].find("</h3>").unwrap()];
                assert!(
                    h3.contains(&format!("› battery: {}", html_text(failure.title()))),
                    "{id} is not the derived case of {failure:?}: {h3}"
                );
                by_peer[k].push((peers[k].clone(), failure_key(failure), v.to_string()));
            }
        }
        cells.extend(by_peer.into_iter().flatten());
    }
    cells
}

fn html_text(s: &str) -> String {
    s.replace('\'', "&#39;")
}

/// Checks every format of one run against `want` (cells) and `counts` (right, other, wrongly, skipped of
/// each battery); returns the Gradescope report for points.
fn check_every_format(
    texts: &BTreeMap<&str, String>,
    want: &[Cell],
    counts: &[(usize, usize, usize, usize)],
) -> serde_json::Value {
    let json: serde_json::Value = serde_json::from_str(&texts["json"]).unwrap();
    assert_eq!(json_cells(&json["battery"]), want, "JSON");
    let got: Vec<_> = json["battery"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let n = |k: &str| b[k].as_u64().unwrap() as usize;
            (
                n("refused_right_reason"),
                n("refused_other_reason"),
                n("accepted_wrongly"),
                n("skipped"),
            )
        })
        .collect();
    assert_eq!(got, counts, "JSON counts");
    let count_lines: Vec<String> = counts
        .iter()
        .map(|(r, o, a, s)| {
            format!(
                "  {r} refused for the right reason, {o} for another reason, {a} accepted wrongly, {s} skipped"
            )
        })
        .collect();
    let has_counts = |text: &str, what: &str| {
        for c in &count_lines {
            assert!(text.contains(c.as_str()), "{what}: no {c:?} in\n{text}");
        }
    };

    let (cells, table) = junit_cells(&texts["junit.xml"]);
    assert_eq!(cells, want, "JUnit properties");
    assert_eq!(table_cells(&table), want, "JUnit system-out");
    has_counts(&table, "JUnit");

    let (cells, diagnosed, table) = tap_cells(&texts["tap"]);
    assert_eq!(cells, want, "TAP comments");
    let failed: Vec<Cell> = want
        .iter()
        .filter(|c| c.2 != "refused_right_reason" && c.2 != "skipped")
        .cloned()
        .collect();
    assert_eq!(
        diagnosed, failed,
        "TAP diagnostics of the failed derived cases"
    );
    has_counts(&table, "TAP");

    let gradescope: serde_json::Value = serde_json::from_str(&texts["gradescope.json"]).unwrap();
    assert_eq!(
        json_cells(&gradescope["extra_data"]["battery"]),
        want,
        "Gradescope extra_data"
    );
    let output = gradescope["output"].as_str().unwrap();
    assert_eq!(table_cells(output), want, "Gradescope output");
    has_counts(output, "Gradescope");
    // Each derived case that can apply is still one test, opening with its verdict; those that cannot
    // apply are left out (Gradescope knows only passed and failed), the matrix says why.
    let derived: Vec<&serde_json::Value> = gradescope["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().contains(" › battery: "))
        .collect();
    let applies: Vec<_> = want
        .iter()
        .filter(|(_, _, v)| *v != Verdict::Skipped.key())
        .cloned()
        .collect();
    assert_eq!(derived.len(), applies.len());
    for (t, (peer, _, v)) in derived.iter().zip(applies) {
        let v = VERDICTS.iter().find(|x| x.key() == v).unwrap();
        assert!(
            t["output"]
                .as_str()
                .unwrap()
                .starts_with(&format!("battery ({peer}): {} — ", v.text())),
            "{t}"
        );
    }

    let classroom: serde_json::Value = serde_json::from_str(&texts["classroom.json"]).unwrap();
    assert_eq!(json_cells(&classroom["battery"]), want, "Classroom");
    let tests = classroom["tests"].as_array().unwrap();
    assert_eq!(tests.len(), gradescope["tests"].as_array().unwrap().len());
    let sum: f64 = tests.iter().map(|t| t["score"].as_f64().unwrap()).sum();
    assert_eq!(sum, gradescope["score"].as_f64().unwrap());

    assert_eq!(html_cells(&texts["html"]), want, "HTML");
    for c in &count_lines {
        assert!(texts["html"].contains(&format!("<td class=\"counts\">{}</td>", c.trim())));
    }
    gradescope
}

#[test]
fn the_built_in_peers_matrix_is_the_same_in_every_report() {
    let texts = reports(Some("battery"), "labs/battery.yaml", 0);
    let right = |set: &[Failure]| -> Vec<(Failure, Verdict)> {
        set.iter()
            .map(|f| (*f, Verdict::RefusedRightReason))
            .collect()
    };
    let want = expected(&[
        ("server web (built-in)", right(Failure::SERVER_SET)),
        ("client (built-in)", right(Failure::CLIENT_SET)),
    ]);
    assert_eq!(want.len(), 20);
    let gradescope = check_every_format(&texts, &want, &[(11, 0, 0, 0), (9, 0, 0, 0)]);
    // Every case passes, the derived ones with a point each.
    assert_eq!(gradescope["score"], 21.0);
    for t in gradescope["tests"].as_array().unwrap() {
        assert_eq!((&t["score"], &t["max_score"]), (&1.0.into(), &1.0.into()));
    }
    // The page draws one grid per side tested, and the JUnit suite counts every derived case.
    assert_eq!(texts["html"].matches("<div class=\"battery\"").count(), 2);
    assert!(texts["junit.xml"].contains("tests=\"21\" failures=\"0\""));
}

#[test]
fn the_lax_servers_matrix_shows_eight_accepted_wrongly_in_every_report() {
    let texts = reports(
        Some("lax-server"),
        "tests/fixtures/battery/lax-server.yaml",
        1,
    );
    use Failure as F;
    use Verdict as V;
    let rows = vec![
        (F::NoClientCertificate, V::AcceptedWrongly),
        (F::ClientUnknownCa, V::AcceptedWrongly),
        (F::ClientRogueCa, V::AcceptedWrongly),
        (F::ClientSelfSigned, V::AcceptedWrongly),
        (F::ClientExpired, V::AcceptedWrongly),
        (F::ClientNotYetValid, V::AcceptedWrongly),
        (F::ClientServerAuthOnly, V::AcceptedWrongly),
        (F::ClientCaCertificate, V::Skipped),
        (F::ClientRevoked, V::Skipped),
        (F::ClientIntermediateLeftOut, V::Skipped),
        (F::ClientKeyMismatch, V::AcceptedWrongly),
    ];
    let want = expected(&[("server py (command)", rows)]);
    let gradescope = check_every_format(&texts, &want, &[(0, 0, 8, 3)]);
    // The points: the written case's 1; each derived case accepted wrongly 0 of 1; skipped ones 0 of 0.
    assert_eq!(
        (
            &gradescope["score"],
            gradescope["output"].as_str().unwrap().lines().next()
        ),
        (
            &1.0.into(),
            Some("1 of 9 points: 1 passed, 8 failed, 3 skipped")
        )
    );
    let scores: Vec<(f64, f64)> = gradescope["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["score"].as_f64().unwrap(),
                t["max_score"].as_f64().unwrap(),
            )
        })
        .collect();
    let mut want_scores = vec![(1.0, 1.0)];
    want_scores.extend([(0.0, 1.0); 7]);
    // The 3 that cannot apply (CA certificate, revoked, intermediate left out) are not Gradescope tests.
    want_scores.push((0.0, 1.0));
    assert_eq!(scores, want_scores);
    // TAP: 7 not ok with their diagnostics, 3 SKIP; the grid cells in red.
    let tap = &texts["tap"];
    assert_eq!(tap.lines().filter(|l| l.starts_with("not ok ")).count(), 8);
    assert_eq!(tap.matches(" # SKIP ").count(), 3);
    assert_eq!(
        texts["html"]
            .matches("<td class=\"v-accepted_wrongly\" data-verdict=\"accepted_wrongly\">")
            .count(),
        8
    );
}

/// A built-in server that trusts the wrong CA (`other-ca`): the written case fails, and the battery's
/// rogue CA and mismatched key are refused — as an unknown issuer, not for their own reason. Run with
/// [`DERIVED_ONLY`]: with the written case in the run, its failure holds every derived case back.
const WRONG_TRUST: &str = r#"
lab: battery-wrong-trust
authorities:
  ca: { subject: { O: Test Lab, CN: Test Lab CA } }
  other-ca: { subject: { O: Elsewhere, CN: Other CA } }
certificates:
  server: { issuer: ca, subject: { CN: localhost }, san: [dns:localhost, ip:127.0.0.1], usage: server }
  client: { issuer: ca, subject: { O: Test Lab, CN: alice }, usage: client }
servers:
  web: { certificate: server, trust: [other-ca] }
cases:
  - name: works
    client: { certificate: client, trust: [ca] }
    expect: accepted
    battery: { set: standard, test: server }
"#;

/// `--filter` selecting a battery's derived cases without the written one (which then holds none back).
const DERIVED_ONLY: &[&str] = &["--filter", "› battery:"];

fn wrong_trust_rows(failed: Verdict) -> Vec<(Failure, Verdict)> {
    use Failure as F;
    use Verdict as V;
    vec![
        (F::NoClientCertificate, V::RefusedRightReason),
        (F::ClientUnknownCa, V::RefusedRightReason),
        (F::ClientRogueCa, failed),
        (F::ClientSelfSigned, V::RefusedRightReason),
        // webpki checks a certificate's dates, purpose and CA flag before it looks for its issuer.
        (F::ClientExpired, V::RefusedRightReason),
        (F::ClientNotYetValid, V::RefusedRightReason),
        (F::ClientServerAuthOnly, V::RefusedRightReason),
        (F::ClientCaCertificate, V::RefusedRightReason),
        (F::ClientRevoked, V::Skipped),
        (F::ClientIntermediateLeftOut, V::Skipped),
        (F::ClientKeyMismatch, failed),
    ]
}

#[test]
fn refused_for_another_reason_is_the_same_cell_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.yaml");
    // The written case's name carries an escape sequence: every matrix escapes it.
    std::fs::write(
        &lab,
        WRONG_TRUST.replace("- name: works", "- name: \"works \\e[31mred\""),
    )
    .unwrap();
    let texts = reports_with(None, lab.to_str().unwrap(), 1, DERIVED_ONLY);
    let want = expected(&[(
        "server web (built-in)",
        wrong_trust_rows(Verdict::RefusedOtherReason),
    )]);
    check_every_format(&texts, &want, &[(7, 2, 0, 2)]);
    for (suffix, text) in &texts {
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{suffix}: a raw control character"
        );
        assert!(text.contains("works \\u001b[31mred"), "{suffix}");
    }
    // Where it says why: expected and observed, in the cell's detail.
    assert!(texts["tap"].contains("#   client certificate with a key that does not match              refused (other reason)  expected rejected by server: bad_signature; rejected by server: unknown_issuer\n"), "{}", texts["tap"]);
}

#[test]
fn students_see_a_hidden_battery_as_pass_or_not_passed_and_instructors_see_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let lab = dir.path().join("lab.yaml");
    std::fs::write(
        &lab,
        WRONG_TRUST.replace("expect: accepted", "expect: accepted\n    hidden: true"),
    )
    .unwrap();
    let texts = reports_with(None, lab.to_str().unwrap(), 1, DERIVED_ONLY);
    let peer = "server web (built-in)";
    let hidden = expected(&[(peer, wrong_trust_rows(Verdict::Hidden))]);
    let all = expected(&[(peer, wrong_trust_rows(Verdict::RefusedOtherReason))]);
    // JSON carries every detail; the student's formats only whether each derived case passed.
    let json: serde_json::Value = serde_json::from_str(&texts["json"]).unwrap();
    assert_eq!(json_cells(&json["battery"]), all);
    assert_eq!(junit_cells(&texts["junit.xml"]).0, hidden);
    assert_eq!(tap_cells(&texts["tap"]).0, hidden);
    let gradescope: serde_json::Value = serde_json::from_str(&texts["gradescope.json"]).unwrap();
    assert_eq!(json_cells(&gradescope["extra_data"]["battery"]), hidden);
    assert_eq!(table_cells(gradescope["output"].as_str().unwrap()), hidden);
    let classroom: serde_json::Value = serde_json::from_str(&texts["classroom.json"]).unwrap();
    assert_eq!(json_cells(&classroom["battery"]), hidden);
    assert_eq!(classroom["battery"][0]["hidden"], 2);
    assert_eq!(html_cells(&texts["html"]), hidden);
    for (suffix, text) in &texts {
        if *suffix != "json" {
            assert!(
                !text.contains("unknown_issuer"),
                "{suffix} shows a hidden observation"
            );
            if *suffix != "classroom.json" {
                assert!(text.contains("7 refused for the right reason, 0 for another reason, 0 accepted wrongly, 2 skipped, 2 hidden"), "{suffix}");
            }
        }
    }
    // --show-hidden: the instructor's view is the whole matrix.
    let tap = dir.path().join("r.tap");
    let out = mtls(
        &root(),
        &[
            "run",
            lab.to_str().unwrap(),
            "--show-hidden",
            DERIVED_ONLY[0],
            DERIVED_ONLY[1],
            "--report-tap",
            tap.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(tap_cells(&std::fs::read_to_string(&tap).unwrap()).0, all);
}
