//! The HTML report (`--report-html FILE`): one self-contained page — inline CSS and script, no external
//! resource (a Content-Security-Policy forbids any) — with a summary, filters (failed, passed, by tag),
//! then per lab and case the verdict, expected vs observed, the explanation, and the certificate chain
//! each side presented drawn as boxes, the certificate that failed marked. A lab with a battery opens with
//! its matrix ([`super::battery`]): derived failure × peer under test, each cell coloured by verdict and
//! linking to the derived case's article on the same page. Every text is escaped, and
//! private keys are redacted first ([`super::safe::clean`]); no key is ever read into the report.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::battery::Battery;
use super::console::observed_text;
use super::{points, points_text, totals};
use crate::lab::battery::{Failure, Tested};
use crate::reason::{Outcome, Side};
use crate::run::{CaseResult, CheckResult, LabResult, Presented, Status};
use crate::verdict::expectation_summary;

/// The page's style: boxes for certificates, a red frame for the one that failed.
const STYLE: &str = r#"
:root { --pass: #1a7f37; --fail: #cf222e; --err: #9a6700; --skip: #6e7781; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 12px 24px; position: sticky; top: 0; }
h1 { font-size: 20px; margin: 0 0 4px; }
main { padding: 12px 24px; }
.summary b.passed { color: var(--pass); } .summary b.failed { color: var(--fail); } .summary b.errors { color: var(--err); }
nav.filters button { font: inherit; margin-right: 4px; padding: 2px 10px; border: 1px solid var(--line); border-radius: 12px; background: #fff; cursor: pointer; }
nav.filters button[aria-pressed="true"] { background: #0969da; color: #fff; border-color: #0969da; }
section.lab { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 12px 0; padding: 8px 16px; }
section.lab > h2 { font-size: 17px; margin: 6px 0; }
.file { color: var(--skip); font-weight: normal; font-size: 13px; }
article.case, div.check { border-top: 1px solid var(--line); padding: 8px 0; }
article.case h3, div.check h3 { font-size: 15px; margin: 0 0 4px; }
.status { display: inline-block; min-width: 3.6em; text-align: center; border-radius: 4px; color: #fff; font-size: 12px; padding: 1px 4px; margin-right: 6px; }
.status.passed { background: var(--pass); } .status.failed { background: var(--fail); }
.status.error { background: var(--err); } .status.skipped { background: var(--skip); }
dl.verdict { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0; }
dl.verdict dt { color: var(--skip); } dl.verdict dd { margin: 0; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: 6px; margin: 4px 0; border-radius: 4px; }
.explanation p { margin: 2px 0; }
.chains { display: flex; flex-wrap: wrap; gap: 16px; margin-top: 6px; }
figure.chain { margin: 0; flex: 1 1 300px; max-width: 480px; }
figure.chain figcaption { font-weight: 600; margin-bottom: 4px; }
.cert { border: 2px solid var(--line); border-radius: 6px; padding: 6px 8px; background: #fff; font-size: 13px; }
.cert.authority { border-style: dashed; }
.cert.failed { border-color: var(--fail); background: #ffebe9; }
.cert .name { font-weight: 600; }
.cert .mark { color: var(--fail); font-weight: 700; }
.cert table { border-collapse: collapse; } .cert td { padding: 0 6px 0 0; vertical-align: top; }
.cert td:first-child { color: var(--skip); white-space: nowrap; }
.link { text-align: center; color: var(--skip); font-size: 12px; margin: 2px 0; }
.link.failed { color: var(--fail); font-weight: 700; }
.trust { border: 1px dotted var(--line); border-radius: 6px; padding: 4px 8px; font-size: 13px; color: var(--skip); }
.tags { color: var(--skip); font-size: 12px; }
div.battery { margin: 8px 0 12px; }
article.case { scroll-margin-top: 120px; } article.case:target { outline: 2px solid #0969da; outline-offset: 2px; }
div.battery h3 { font-size: 15px; margin: 4px 0; }
table.battery { border-collapse: collapse; font-size: 13px; }
table.battery th, table.battery td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
table.battery thead th { background: #f6f8fa; }
table.battery td a { color: inherit; font-weight: 600; }
table.battery td .detail { font-size: 12px; color: #57606a; }
td.v-refused_right_reason { background: #dafbe1; } td.v-refused_right_reason a { color: var(--pass); }
td.v-refused_reason_not_said { background: #eaf5ec; } td.v-refused_reason_not_said a { color: var(--pass); }
td.v-refused_other_reason { background: #fff8c5; } td.v-refused_other_reason a { color: var(--err); }
td.v-accepted_wrongly { background: #ffebe9; } td.v-accepted_wrongly a { color: var(--fail); }
td.v-skipped, td.v-hidden, td.v-none { background: #f6f8fa; color: var(--skip); }
td.v-not_decided { background: #fff1e5; }
[hidden] { display: none !important; }
"#;

/// The filters: all, failed (failed, errors), passed, and by tag. Runs without any external resource.
const SCRIPT: &str = r#"
(function () {
  var cases = Array.prototype.slice.call(document.querySelectorAll('article.case'));
  var state = { status: 'all', tag: '' };
  function shown(c) {
    var s = c.getAttribute('data-status');
    var okStatus = state.status === 'all' ||
      (state.status === 'failed' && (s === 'failed' || s === 'error')) ||
      (state.status === 'passed' && s === 'passed');
    var tags = ' ' + (c.getAttribute('data-tags') || '') + ' ';
    var okTag = state.tag === '' || tags.indexOf(' ' + state.tag + ' ') >= 0;
    return okStatus && okTag;
  }
  function apply() {
    var n = 0;
    cases.forEach(function (c) { var on = shown(c); c.hidden = !on; if (on) { n += 1; } });
    document.querySelectorAll('section.lab').forEach(function (lab) {
      var any = lab.querySelector('article.case:not([hidden])');
      var hasCases = lab.querySelector('article.case');
      lab.hidden = Boolean(hasCases) && !any && state.status !== 'all';
    });
    document.querySelectorAll('nav.filters button').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-filter') === state.status));
    });
    document.getElementById('shown').textContent = n + ' of ' + cases.length + ' case(s) shown';
  }
  document.querySelectorAll('nav.filters button').forEach(function (b) {
    b.addEventListener('click', function () { state.status = b.getAttribute('data-filter'); apply(); });
  });
  var tag = document.getElementById('tag');
  tag.addEventListener('change', function () { state.tag = tag.value; apply(); });
  var wanted = /(?:^|[#&])filter=([a-z]+)/.exec(location.hash);
  if (wanted) { state.status = wanted[1]; }
  var wantedTag = /(?:^|[#&])tag=([^&]+)/.exec(location.hash);
  if (wantedTag) { state.tag = decodeURIComponent(wantedTag[1]); tag.value = state.tag; }
  apply();
  document.documentElement.setAttribute('data-ready', 'true');
})();
"#;

/// `s` as HTML text or attribute value: private keys redacted and control characters escaped
/// ([`super::safe::clean`]), then `& < > " '` as entities.
pub fn escape(s: &str) -> String {
    let clean = super::safe::clean(s);
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The status's word and CSS class.
fn status_words(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Passed => ("PASS", "passed"),
        Status::Failed => ("FAIL", "failed"),
        Status::Error => ("ERROR", "error"),
        Status::Skipped => ("SKIP", "skipped"),
    }
}

/// The HTML report of `results` (already the student's or the instructor's view): a whole page.
pub fn html(results: &[LabResult]) -> String {
    let mut out = String::new();
    let t = totals(results);
    let cases: usize = results.iter().map(|r| r.cases.len()).sum();
    let tags: BTreeSet<&str> = results
        .iter()
        .flat_map(|r| &r.cases)
        .flat_map(|c| &c.context.tags)
        .map(String::as_str)
        .collect();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>mtls-lab report</title>\n");
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>\n<header>");
    out.push_str("<h1>mtls-lab report</h1>\n");
    let _ = write!(
        out,
        "<p class=\"summary\" id=\"summary\"><b class=\"passed\">{} passed</b>, <b class=\"failed\">{} failed</b>",
        t.passed, t.failed
    );
    if t.errors > 0 {
        let _ = write!(out, ", <b class=\"errors\">{} could not run</b>", t.errors);
    }
    if t.skipped > 0 {
        let _ = write!(out, ", {} skipped", t.skipped);
    }
    if results.iter().any(|r| r.graded) {
        let (p, m) = points(results);
        let _ = write!(
            out,
            "; score {} of {} points",
            points_text(p),
            points_text(m)
        );
    }
    let _ = writeln!(
        out,
        " — {} lab(s), {cases} case(s). <span id=\"shown\"></span></p>",
        results.len()
    );
    out.push_str("<nav class=\"filters\">");
    for (key, label) in [("all", "all"), ("failed", "failed"), ("passed", "passed")] {
        let _ = write!(
            out,
            "<button type=\"button\" data-filter=\"{key}\" aria-pressed=\"{}\">{label}</button>",
            key == "all"
        );
    }
    out.push_str(" <label>tag <select id=\"tag\"><option value=\"\">any</option>");
    for tag in &tags {
        let t = escape(tag);
        let _ = write!(out, "<option value=\"{t}\">{t}</option>");
    }
    out.push_str("</select></label></nav>\n</header>\n<main>\n");
    let batteries = super::battery::matrix(results);
    for (i, lab) in results.iter().enumerate() {
        lab_section(&mut out, i, lab, &batteries);
    }
    let _ = writeln!(out, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>");
    out
}

/// One lab: its error, its battery matrix, its checks, its cases.
fn lab_section(out: &mut String, index: usize, lab: &LabResult, batteries: &[Battery]) {
    let status = if lab.error.is_some() {
        "error"
    } else if lab.count(Status::Failed) + lab.count(Status::Error) > 0 {
        "failed"
    } else {
        "passed"
    };
    let _ = writeln!(
        out,
        "<section class=\"lab\" id=\"lab-{index}\" data-status=\"{status}\">\n<h2>{} <span class=\"file\">{}</span></h2>",
        escape(&lab.lab),
        escape(&lab.file.display().to_string())
    );
    if let Some(e) = &lab.error {
        let _ = writeln!(
            out,
            "<div class=\"lab-error\"><span class=\"status error\">ERROR</span> this lab could not run:<pre>{}</pre></div>",
            escape(e)
        );
    }
    for tested in [Tested::Server, Tested::Client] {
        let group: Vec<&Battery> = batteries
            .iter()
            .filter(|b| b.lab_index == index && b.tested == tested)
            .collect();
        if !group.is_empty() {
            battery_grid(out, index, tested, &group);
        }
    }
    for check in &lab.checks {
        check_block(out, check);
    }
    for (j, case) in lab.cases.iter().enumerate() {
        case_article(out, index, j, lab, case);
    }
    out.push_str("</section>\n");
}

/// The matrix of a lab's batteries testing one side: a row per derived failure, a column per peer under
/// test (the written case it derives from below), each cell the verdict, coloured, linking to the derived
/// case, with what was observed; the counts at the foot.
fn battery_grid(out: &mut String, lab_index: usize, tested: Tested, group: &[&Battery]) {
    let (key, title) = match tested {
        Tested::Server => ("server", "bad client certificates against the server"),
        Tested::Client => ("client", "bad server certificates against the client"),
    };
    let _ = writeln!(
        out,
        "<div class=\"battery\" data-tested=\"{key}\"><h3>battery: {title}</h3>\n<table class=\"battery\">"
    );
    out.push_str("<thead><tr><th scope=\"col\">derived failure</th>");
    for b in group {
        let _ = write!(
            out,
            "<th scope=\"col\">{}<div class=\"file\">from `{}`</div></th>",
            escape(&b.peer),
            escape(&b.case)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut failures: Vec<Failure> = Vec::new();
    for r in group.iter().flat_map(|b| &b.rows) {
        if !failures.contains(&r.failure) {
            failures.push(r.failure);
        }
    }
    for f in failures {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", escape(f.title()));
        for b in group {
            match b.rows.iter().find(|r| r.failure == f) {
                Some(r) => {
                    let v = r.verdict.key();
                    let _ = write!(
                        out,
                        "<td class=\"v-{v}\" data-verdict=\"{v}\"><a href=\"#case-{lab_index}-{}\">{}</a>",
                        r.index,
                        escape(r.verdict.text())
                    );
                    let detail = r.cell_detail();
                    if !detail.is_empty() {
                        let _ = write!(out, "<div class=\"detail\">{}</div>", escape(&detail));
                    }
                    out.push_str("</td>");
                }
                None => out.push_str("<td class=\"v-none\">—</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n<tfoot><tr><th scope=\"row\">counts</th>");
    for b in group {
        let _ = write!(out, "<td class=\"counts\">{}</td>", escape(&b.counts()));
    }
    out.push_str("</tr></tfoot>\n</table></div>\n");
}

fn check_block(out: &mut String, check: &CheckResult) {
    let (word, class) = status_words(check.status);
    let _ = writeln!(
        out,
        "<div class=\"check\" data-status=\"{class}\"><h3><span class=\"status {class}\">{word}</span>check {} <span class=\"file\">(`{}`, line {})</span></h3>",
        escape(&check.name),
        escape(&check.certificate),
        check.line
    );
    if !check.grade.hidden {
        messages(out, &check.messages);
    }
    out.push_str("</div>\n");
}

fn messages(out: &mut String, messages: &[String]) {
    if messages.is_empty() {
        return;
    }
    out.push_str("<ul class=\"messages\">");
    for m in messages {
        if m.contains('\n') {
            let _ = write!(out, "<li><pre>{}</pre></li>", escape(m));
        } else {
            let _ = write!(out, "<li>{}</li>", escape(m));
        }
    }
    out.push_str("</ul>\n");
}

/// One case: verdict, expected vs observed, messages, explanation, the two chains.
fn case_article(
    out: &mut String,
    lab_index: usize,
    index: usize,
    lab: &LabResult,
    case: &CaseResult,
) {
    let (word, class) = status_words(case.status);
    let tags = case
        .context
        .tags
        .iter()
        .map(|t| escape(t))
        .collect::<Vec<_>>()
        .join(" ");
    let _ = writeln!(
        out,
        "<article class=\"case\" id=\"case-{lab_index}-{index}\" data-status=\"{class}\" data-tags=\"{tags}\">"
    );
    let _ = writeln!(
        out,
        "<h3><span class=\"status {class}\">{word}</span>{} <span class=\"file\">line {}</span></h3>",
        escape(&case.name),
        case.line
    );
    if !tags.is_empty() {
        let _ = writeln!(out, "<div class=\"tags\">tags: {tags}</div>");
    }
    if case.grade.hidden {
        out.push_str("<p>(hidden)</p>\n</article>\n");
        return;
    }
    out.push_str("<dl class=\"verdict\">");
    let _ = write!(
        out,
        "<dt>expected</dt><dd class=\"expected\">{}</dd>",
        escape(&expectation_summary(&case.expected))
    );
    match &case.observed {
        Some(o) => {
            let _ = write!(
                out,
                "<dt>observed</dt><dd class=\"observed\">{}</dd>",
                escape(&observed_text(o))
            );
            if let Some(d) = &o.detail {
                let _ = write!(out, "<dt>detail</dt><dd>{}</dd>", escape(d));
            }
        }
        None => out.push_str("<dt>observed</dt><dd class=\"observed\">not run</dd>"),
    }
    let _ = write!(
        out,
        "<dt>server</dt><dd>`{}`, server name `{}`</dd><dt>verified at</dt><dd>{}</dd>",
        escape(&case.context.server),
        escape(&case.context.server_name),
        escape(&case.context.verification_time)
    );
    if lab.graded {
        let _ = write!(
            out,
            "<dt>points</dt><dd>{} of {}</dd>",
            points_text(case.grade.points),
            points_text(case.grade.max_points)
        );
    }
    out.push_str("</dl>\n");
    if case.status != Status::Passed {
        messages(out, &case.messages);
    }
    if let Some(e) = &case.explanation {
        let _ = writeln!(
            out,
            "<div class=\"explanation\"><p><b>why</b> {}</p><p><b>fix</b> {}</p></div>",
            escape(&e.what),
            escape(&e.fix)
        );
    }
    chains(out, case);
    out.push_str("</article>\n");
}

/// The chain each side presented, leaf at the top, each box linked to the next by "issued by"; the
/// verifier's trust below the chain it verified; the certificate that failed marked.
fn chains(out: &mut String, case: &CaseResult) {
    let c = &case.context.chains;
    if c.server.is_empty() && c.client.is_empty() {
        return;
    }
    let rejected = case
        .observed
        .as_ref()
        .filter(|o| o.outcome == Outcome::Rejected);
    let by = rejected.and_then(|o| o.by);
    let failed = case
        .explanation
        .as_ref()
        .and_then(|e| e.certificate.as_deref());
    let reason = case.explanation.as_ref().map(|e| e.reason.code());
    // A failure of the link above the top certificate: to a trusted authority.
    let link = match reason {
        Some("unknown_issuer") => Some("✗ issuer neither sent nor trusted"),
        Some("bad_signature") => {
            Some("✗ the signature does not verify with the trusted issuer's key")
        }
        _ => None,
    };
    out.push_str("<div class=\"chains\">\n");
    let x = &case.context;
    chain(
        out,
        &format!("the server's chain (server `{}`)", x.server),
        "server",
        &c.server,
        (by == Some(Side::Client)).then_some(failed).flatten(),
        reason,
        link.filter(|_| by == Some(Side::Client)),
        &format!("the client trusted: {}", list(&x.client_trusts)),
    );
    if c.client.is_empty() {
        let _ = writeln!(
            out,
            "<figure class=\"chain\" data-side=\"client\"><figcaption>the client's chain</figcaption><div class=\"trust\">no client certificate</div></figure>"
        );
    } else {
        chain(
            out,
            &format!(
                "the client's chain (`{}`)",
                x.client_certificate.as_deref().unwrap_or("?")
            ),
            "client",
            &c.client,
            (by == Some(Side::Server)).then_some(failed).flatten(),
            reason,
            link.filter(|_| by == Some(Side::Server)),
            &format!("the server trusted: {}", list(&x.server_trusts)),
        );
    }
    out.push_str("</div>\n");
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".into()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[allow(clippy::too_many_arguments)]
fn chain(
    out: &mut String,
    caption: &str,
    side: &str,
    certs: &[Presented],
    failed: Option<&str>,
    reason: Option<&str>,
    failed_link: Option<&str>,
    trust: &str,
) {
    let _ = writeln!(
        out,
        "<figure class=\"chain\" data-side=\"{side}\"><figcaption>{}</figcaption>",
        escape(caption)
    );
    // A link between two boxes says "issued by" only when it is true (a chain sent as a list may hold
    // a certificate that did not issue the one above it).
    let mut broken = false;
    for (i, p) in certs.iter().enumerate() {
        if i > 0 {
            let above = certs[i - 1].summary.as_ref().map(|s| &s.issuer);
            let this = p.summary.as_ref().map(|s| &s.subject);
            if above.is_some() && above == this {
                out.push_str("<div class=\"link\">issued by ↓</div>\n");
            } else {
                broken = true;
                let _ = writeln!(
                    out,
                    "<div class=\"link{}\">✗ not the issuer of the certificate above</div>",
                    if failed == Some(certs[i - 1].name.as_str()) && failed_link.is_some() {
                        " failed\" data-failed-link=\"true"
                    } else {
                        ""
                    }
                );
            }
        }
        let is_failed = failed == Some(p.name.as_str());
        cert_box(out, p, is_failed.then_some(reason.unwrap_or("failed")));
    }
    let last_failed = certs.last().map(|c| c.name.as_str()) == failed;
    match failed_link.filter(|_| last_failed || !broken) {
        Some(why) => {
            let _ = writeln!(
                out,
                "<div class=\"link failed\" data-failed-link=\"true\">{}</div>",
                escape(why)
            );
        }
        None if broken => out.push_str("<div class=\"link\">↓</div>\n"),
        None => out.push_str("<div class=\"link\">issued by ↓</div>\n"),
    }
    let _ = writeln!(out, "<div class=\"trust\">{}</div></figure>", escape(trust));
}

fn cert_box(out: &mut String, p: &Presented, failed: Option<&str>) {
    let mut class = String::from("cert");
    if p.authority {
        class.push_str(" authority");
    }
    if failed.is_some() {
        class.push_str(" failed");
    }
    let _ = write!(
        out,
        "<div class=\"{class}\" data-name=\"{}\"{}>",
        escape(&p.name),
        if failed.is_some() {
            " data-failed=\"true\""
        } else {
            ""
        }
    );
    let _ = write!(
        out,
        "<div><span class=\"name\">{}</span> <span class=\"file\">{}</span>",
        escape(&p.name),
        if p.authority {
            "intermediate"
        } else {
            "certificate"
        }
    );
    if let Some(why) = failed {
        let _ = write!(
            out,
            " <span class=\"mark\">✗ failed: {}</span>",
            escape(why)
        );
    }
    out.push_str("</div>");
    match &p.summary {
        None => out.push_str("<div>(could not be read)</div>"),
        Some(s) => {
            out.push_str("<table>");
            let sans = if s.sans.is_empty() {
                "(none)".to_string()
            } else {
                s.sans.join(", ")
            };
            let ca = match (s.ca, s.path_len) {
                (true, Some(n)) => format!("yes, path length {n}"),
                (true, None) => "yes".into(),
                (false, _) => "no".into(),
            };
            let valid = format!("{} to {}", s.not_before, s.not_after);
            for (k, v) in [
                ("subject", s.subject.as_str()),
                ("issuer", s.issuer.as_str()),
                ("valid", valid.as_str()),
                ("key", s.key.as_str()),
                ("SANs", sans.as_str()),
                ("CA", ca.as_str()),
            ] {
                let _ = write!(out, "<tr><td>{k}</td><td>{}</td></tr>", escape(v));
            }
            out.push_str("</table>");
        }
    }
    out.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_writes_entities_redacts_keys_and_escapes_controls() {
        assert_eq!(
            escape("<b a=\"1\">'&'</b>"),
            "&lt;b a=&quot;1&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("a\u{1b}[31m"), "a\\u001b[31m");
        let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----";
        assert_eq!(escape(key), super::super::safe::KEY_REDACTED);
    }
}
