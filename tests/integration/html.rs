//! The HTML report (`run --report-html`): a golden page for a small lab with fixed clocks, and the page
//! opened in headless Chromium — the script runs without a console error, the failed case's failing
//! certificate (the expired intermediate) is marked, the filters hide what they should; a screenshot is
//! kept under the target directory. A lab with a battery (`labs/battery.yaml`) opens with its matrix, whose
//! every cell links to its derived case's article on the page.

use std::path::{Path, PathBuf};

use crate::common::{self, golden, mtls, root};

const LAB: &str = "tests/golden/html/expired-intermediate.yaml";

/// Runs the golden lab with `--report-html` into `dir`; returns the page.
fn page(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("report.html");
    let out = mtls(
        &root(),
        &["run", LAB, "--report-html", path.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "one case fails on purpose:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).expect("the HTML report was written");
    (path, text)
}

/// The text of the `<article>` with `id`, up to its end.
fn article<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id}"));
    let end = dom[start..].find("</article>").unwrap() + start;
    &dom[start..end]
}

#[test]
fn the_html_report_of_a_small_lab_is_golden_and_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = page(dir.path());
    // Self-contained: nothing is fetched, and a policy forbids anything but the inline style and script.
    for external in ["src=", "url(", "@import", "http://", "https://"] {
        assert!(!text.contains(external), "{external} in the page");
    }
    // Links only within the page (the battery matrix's).
    assert_eq!(
        text.matches("href=").count(),
        text.matches("href=\"#").count()
    );
    assert!(text.contains("content=\"default-src 'none'; "));
    // The subject's markup is text, not markup; no key.
    assert!(text.contains("CN=alice &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!text.contains("<script>alert"));
    assert!(!text.contains("PRIVATE KEY"));
    // The chain is drawn with the expired intermediate marked, in the two cases that observed it.
    assert_eq!(
        text.matches("data-name=\"issuing\" data-failed=\"true\"")
            .count(),
        2
    );
    golden(
        &root().join("tests/golden/html/expired-intermediate.html"),
        &text,
    );
}

#[test]
fn the_html_report_renders_in_chromium_with_the_failing_certificate_marked() {
    if !common::chromium_available() {
        println!("SKIPPED the_html_report_renders_in_chromium_with_the_failing_certificate_marked: chromium is not installed (apt-get install chromium; .ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = page(dir.path());
    let url = format!("file://{}", path.display());
    let (dom, stderr) = common::headless_chromium(&dir.path().join("p1"), &url, &["--dump-dom"]);
    // The script ran to its end, and the page logged nothing to the console.
    assert!(
        dom.contains("<html lang=\"en\" data-ready=\"true\">"),
        "{dom}"
    );
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(dom.contains("3 of 3 case(s) shown"), "{dom}");
    // The failed case: its server chain marks the intermediate, not the server certificate.
    let failed = article(&dom, "case-0-2");
    assert!(failed.contains("data-status=\"failed\""), "{failed}");
    assert!(
        failed
            .contains("class=\"cert authority failed\" data-name=\"issuing\" data-failed=\"true\""),
        "{failed}"
    );
    assert!(failed.contains("✗ failed: expired"), "{failed}");
    assert!(
        failed.contains("class=\"cert\" data-name=\"server\">"),
        "the server certificate is not marked: {failed}"
    );
    // The accepted case marks nothing.
    assert!(!article(&dom, "case-0-0").contains("data-failed"));

    // The filter `failed` (from the address) hides the passed cases.
    let (dom, _) = common::headless_chromium(
        &dir.path().join("p2"),
        &format!("{url}#filter=failed"),
        &["--dump-dom"],
    );
    assert!(dom.contains("1 of 3 case(s) shown"), "{dom}");
    assert!(article(&dom, "case-0-0").contains(" hidden=\"\""));
    assert!(!article(&dom, "case-0-2").contains(" hidden=\"\""));

    // The tag filter (from the address too): the two `expiry` cases.
    let (dom, _) = common::headless_chromium(
        &dir.path().join("p4"),
        &format!("{url}#tag=expiry"),
        &["--dump-dom"],
    );
    assert!(dom.contains("2 of 3 case(s) shown"), "{dom}");
    assert!(article(&dom, "case-0-0").contains(" hidden=\"\""));

    // The screenshot is kept as an artifact of the test run.
    let png = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    common::headless_chromium(
        &dir.path().join("p3"),
        &url,
        &[&shot, "--window-size=1200,1800"],
    );
    assert!(png.exists(), "no screenshot at {}", png.display());

    // A battery's page: the matrix rendered, each cell coloured by its verdict and linking to an
    // article of the page that is its derived case; the script still runs without a console message.
    let battery = dir.path().join("battery.html");
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/battery.yaml",
            "--report-html",
            battery.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let url = format!("file://{}", battery.display());
    let (dom, stderr) = common::headless_chromium(&dir.path().join("p5"), &url, &["--dump-dom"]);
    assert!(dom.contains("data-ready=\"true\""), "{dom}");
    assert!(
        !stderr
            .lines()
            .any(|l| l.contains(":CONSOLE") || l.contains("Uncaught")),
        "{stderr}"
    );
    assert!(dom.contains("<div class=\"battery\" data-tested=\"server\"><h3>battery: bad client certificates against the server</h3>"), "{dom}");
    assert!(dom.contains("<div class=\"battery\" data-tested=\"client\">"));
    let cells: Vec<&str> = dom
        .split("<td class=\"v-")
        .skip(1)
        .map(|c| &c[..c.find("</td>").unwrap()])
        .collect();
    assert_eq!(cells.len(), 20, "{dom}");
    for cell in cells {
        assert!(
            cell.starts_with(
                "refused_right_reason\" data-verdict=\"refused_right_reason\"><a href=\"#case-0-"
            ),
            "{cell}"
        );
        let id = &cell[cell.find("#case-").unwrap() + 1..];
        let id = &id[..id.find('"').unwrap()];
        assert!(
            article(&dom, id).contains("› battery: "),
            "{id} is a derived case"
        );
    }
    common::headless_chromium(
        &dir.path().join("p6"),
        &url,
        &[
            &format!(
                "--screenshot={}",
                Path::new(env!("CARGO_TARGET_TMPDIR"))
                    .join("html-battery.png")
                    .display()
            ),
            "--window-size=1200,1400",
        ],
    );
}

#[test]
fn a_link_that_is_not_an_issuer_is_not_drawn_as_one_and_the_unknown_issuer_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.html");
    let out = mtls(
        &root(),
        &[
            "run",
            "labs/missing-intermediate.yaml",
            "--report-html",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&path).unwrap();
    // The server sends its leaf and an intermediate that did not issue it: the leaf is the failing
    // certificate, and the link under it is marked, not drawn as "issued by".
    let wrong = article(&text, "case-0-2");
    let server_chain = &wrong
        [wrong.find("data-side=\"server\"").unwrap()..wrong.find("data-side=\"client\"").unwrap()];
    assert!(
        server_chain
            .contains("<div class=\"cert failed\" data-name=\"server\" data-failed=\"true\">"),
        "{server_chain}"
    );
    assert!(server_chain.contains("<div class=\"link failed\" data-failed-link=\"true\">✗ not the issuer of the certificate above</div>"), "{server_chain}");
    assert!(!server_chain.contains("issued by"), "{server_chain}");
    // The leaf alone: the link above it is the failing one.
    let leaf_only = article(&text, "case-0-1");
    assert!(
        leaf_only.contains("✗ issuer neither sent nor trusted"),
        "{leaf_only}"
    );
}
