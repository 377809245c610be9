//! The command line as clap parses it, and the exit codes: no logic beyond checking what the user typed.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use mtls_lab::lab::select::Partition;

/// Exit codes, documented in the README.
pub mod exit {
    /// Every case met its expectation.
    pub const OK: u8 = 0;
    /// Some case did not.
    pub const FAILED: u8 = 1;
    /// Invalid input: nothing was run.
    pub const INPUT: u8 = 2;
    /// The run itself could not proceed (a server could not start, a report could not be written, ...).
    pub const RUN: u8 = 3;
    /// Interrupted by Ctrl-C (SIGINT): child processes were stopped.
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Parser)]
#[command(
    name = "mtls-lab",
    version,
    about = "Run declarative mutual-TLS labs with real rustls handshakes"
)]
pub struct Cli {
    /// More detail: with `run`, -v the readable trace of every case (`run --trace`) and progress on stderr; -vv (any command) the runner's debug log on stderr; RUST_LOG overrides (RUST_LOG=rustls=debug for rustls's own log).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run labs: lab files, or directories searched for *.yaml.
    Run(RunArgs),
    /// Validate labs (syntax, schema, references, semantics) without generating keys or opening sockets.
    Check(CheckArgs),
    /// List the cases that `run` would run, after filtering and partitioning.
    List(ListArgs),
    /// Write a starter lab NAME.yaml (default `my-lab`) that passes as written.
    Init(InitArgs),
    /// Print the JSON Schema of the lab format.
    Schema(SchemaArgs),
    /// Write a lab's certificates, keys and CRLs as PEM files: DIR/NAME/NAME.crt, .key, .chain.pem, .crl.
    Pki(PkiArgs),
    /// Start a lab's built-in servers and keep them running (until Ctrl-C), printing one line per connection: who connected and the verdict.
    Serve(ServeArgs),
    /// Run (or with --list, list) one case of a lab and the standard failure cases derived from it (its battery), with the matrix of how the peer under test met each.
    Battery(BatteryArgs),
    /// Print a certificate or authority of a lab as a learner reads it (subject, issuer, validity, key, SANs, extensions, fingerprints) and its chain.
    Show(ShowArgs),
    /// Run x509-limbo testcases (a limbo JSON file) as real TLS handshakes against a verifier under test (the built-in rustls client or server, curl, openssl s_client or s_server) and report each testcase's agreement with limbo's expected result, with the reason of every rejection; -v also lists the testcases a verifier cannot apply, with why.
    Limbo(LimboArgs),
    /// Repeat cases of a lab with many concurrent clients: handshakes/s, latency percentiles and every verdict counted; a verdict other than the case's expectation is a failure (exit 1).
    Load(LoadArgs),
}

// The argument structs carry no doc comment: clap would take it for the subcommand's about text.

#[derive(clap::Args)]
pub struct RunArgs {
    /// Lab files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub reports: Reports,
    /// Labs, and cases, run at the same time, 1 to 4096 (default: the number of cores; 1 runs everything one after another). Reports are the same, in file order, whatever N.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub jobs: Option<usize>,
    /// Stop after the first lab with a failed case; the labs not run are reported as not run.
    #[arg(long)]
    pub fail_fast: bool,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Explain every rejection (what it means and the usual fix), not only failed cases.
    #[arg(long)]
    pub explain: bool,
    /// Under every case, its handshake as a learner reads it: ClientHello, the chains by subject and issuer, CertificateRequest's CA names, who sent which alert, a program's last output lines (also with -v).
    #[arg(long)]
    pub trace: bool,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Show the details of hidden checks and cases on the console and in every report (the JSON report always has them).
    #[arg(long)]
    pub show_hidden: bool,
    /// Keep each lab's PKI in DIR (the `pki` layout; DIR/LAB for each lab when several run): certificates and keys whose declaration has not changed are reused byte for byte, only what is new, changed or expired is made, and DIR is updated.
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// Generate every key afresh, and store none, instead of using the key cache ($XDG_CACHE_HOME/mtls-lab or ~/.cache/mtls-lab).
    #[arg(long)]
    pub no_cache: bool,
    /// Run in a private network namespace with its own loopback (Linux, as root or with unprivileged user namespaces), so that no other process can reach or take the labs' ports; where that is not permitted, fixed ports are held by port locks as without it. A `target:` outside cannot be reached then.
    #[arg(long)]
    pub isolate: bool,
    /// Grade a class: run the labs once for each directory PATTERN matches (quote it: 'subs/*/'; `*` and `?` within a path component), each bound to the lab's `submission` variable and run as a run of its own, --jobs at a time; with --partition, only the M-th slice of the submissions.
    #[arg(long, value_name = "PATTERN")]
    pub submissions: Option<String>,
    /// With --submissions: write the gradebook as CSV to FILE (one row per submission).
    #[arg(long, value_name = "FILE", requires = "submissions")]
    pub gradebook_csv: Option<PathBuf>,
    /// With --submissions: write the gradebook as JSON to FILE.
    #[arg(long, value_name = "FILE", requires = "submissions")]
    pub gradebook_json: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct BatteryArgs {
    /// The lab file (or directory).
    pub lab: PathBuf,
    /// The case to derive the failures from (it must expect `accepted`).
    pub case: String,
    /// List the derived cases instead of running them.
    #[arg(long)]
    pub list: bool,
    /// Output format of --list.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    #[command(flatten)]
    pub reports: Reports,
    /// Colour: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Explain every rejection, not only failed cases.
    #[arg(long)]
    pub explain: bool,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(clap::Args)]
pub struct LimboArgs {
    /// The limbo file: `{"version": 1, "testcases": [...]}` (e.g. conformance/x509-limbo-subset.json).
    pub file: PathBuf,
    /// The verifier under test; repeat for several (each runs the whole file): builtin (rustls), curl (at the validation time under libfaketime; SERVER testcases only), openssl (s_client -attime; s_server -Verify 1 for CLIENT testcases).
    #[arg(long = "verifier", value_enum, default_values_t = [LimboVerifier::Builtin])]
    pub verifiers: Vec<LimboVerifier>,
    /// Write every result, of every verifier, as JSON to OUT (`-`: standard output, and the console report goes to stderr); OUT is checked before the run and replaced atomically.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
    /// A JSON file of known disagreements, by verifier: {"builtin": [{"id": ..., "why": ...}], ...}. Exit 0 only when every disagreement is listed and no listed testcase agrees.
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
    /// Only the testcases whose id contains ID-SUBSTRING (a plain substring, case-sensitive); repeat for several (a testcase runs when its id contains any). Exit 2 when none matches.
    #[arg(long, value_name = "ID-SUBSTRING")]
    pub filter: Vec<String>,
    /// Testcases run at the same time, 1 to 64 (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub jobs: Option<usize>,
}

/// `limbo --verifier`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum LimboVerifier {
    Builtin,
    Curl,
    Openssl,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Lab files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Treat warnings as errors (exit 2).
    #[arg(long)]
    pub deny_warnings: bool,
    #[command(flatten)]
    pub vars: VarArgs,
    /// Colour: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Lab files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(clap::Args)]
pub struct InitArgs {
    /// The lab's name; the file is NAME.yaml in the current directory.
    #[arg(default_value = "my-lab")]
    pub name: String,
}

#[derive(clap::Args)]
pub struct SchemaArgs {
    /// The schema of an included fragment (`_*.yaml`) instead.
    #[arg(long)]
    pub fragment: bool,
}

#[derive(clap::Args)]
pub struct PkiArgs {
    /// The lab file.
    pub lab: PathBuf,
    /// The directory to write into. A PKI directory written before (it has mtls-lab-state.json) is updated: what has not changed is kept byte for byte.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "pki",
        conflicts_with = "pki"
    )]
    pub out: Option<PathBuf>,
    /// Like --out, for a directory used as the lab's PKI: created, or updated, even when it has files but no state file.
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// Write into a non-empty directory that is not a PKI directory, overwriting files of the same name.
    #[arg(long)]
    pub force: bool,
    /// Also write NAME.p12 (PKCS#12: the key, the certificate, its intermediates and root) for browsers and Java tools.
    #[arg(long)]
    pub p12: bool,
    /// The password of the .p12 files (default `mtls-lab`); implies --p12.
    #[arg(long, value_name = "PASSWORD")]
    pub p12_password: Option<String>,
    /// For a lab with a `matrix`: the variant to export, e.g. `--variant key=ed25519,tls=1.3` (enough variables to name exactly one).
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_variant)]
    pub variant: Option<VariantSelection>,
    /// Also write DIR/make-pki.sh: the openssl commands (genpkey, req, x509 with extension files) that build the same PKI by hand, into DIR/openssl/.
    #[arg(long)]
    pub openssl_script: bool,
    /// Put each authority's private key in its .p12 too (without it, an authority's .p12 holds only its certificate); implies --p12.
    #[arg(long)]
    pub p12_ca_key: bool,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The lab file.
    pub lab: PathBuf,
    /// The certificate or authority.
    pub name: String,
    /// Read the certificates from a PKI directory `pki` or `serve` wrote (DIR/NAME/NAME.crt) instead of generating the lab's PKI afresh.
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// For a lab with a `matrix`: the variant, e.g. `--variant key=ed25519,tls=1.3`.
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_variant)]
    pub variant: Option<VariantSelection>,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The lab file.
    pub lab: PathBuf,
    /// Serve only this server (default: every built-in server of the lab).
    #[arg(long, value_name = "NAME")]
    pub server: Option<String>,
    /// Write the PKI the servers use here, as `pki --p12` does (default: a temporary directory, removed on exit). A PKI directory written before is updated: what has not changed is kept byte for byte.
    #[arg(long, value_name = "DIR", conflicts_with = "pki")]
    pub out: Option<PathBuf>,
    /// Like --out, for a directory used as the lab's PKI: created, or updated, even when it has files but no state file.
    #[arg(long, value_name = "DIR")]
    pub pki: Option<PathBuf>,
    /// Write into a non-empty --out directory that is not a PKI directory, overwriting files of the same name.
    #[arg(long)]
    pub force: bool,
    /// Without --out or --pki: generate every key afresh, and store none, instead of using the key cache.
    #[arg(long)]
    pub no_cache: bool,
    /// One JSON object per connection on stdout (one line each) instead of the text line.
    #[arg(long)]
    pub json: bool,
    /// For a lab with a `matrix`: the variant to serve, e.g. `--variant key=ed25519,tls=1.3`.
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_variant)]
    pub variant: Option<VariantSelection>,
    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The lab file.
    pub lab: PathBuf,
    /// A case to repeat, by name, with an optional weight: `--case NAME` or `--case NAME=WEIGHT`; repeatable, cases then take turns by weight (`--case good=9 --case bad=1`).
    #[arg(long = "case", value_name = "NAME[=WEIGHT]", required = true, value_parser = parse_weighted)]
    pub cases: Vec<(String, u32)>,
    /// Clients connecting at the same time.
    #[arg(long, short = 'c', value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub connections: u32,
    /// Stop starting connections after this long: `10s`, `500ms`, `2m` (at most 10 minutes). Default 10s unless --count is given.
    #[arg(long, value_name = "DURATION", conflicts_with = "count", value_parser = parse_load_duration)]
    pub duration: Option<std::time::Duration>,
    /// Stop after this many connections in all (1 to 1,000,000,000).
    #[arg(long, short = 'n', value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub count: Option<u64>,
    /// Only the handshake: no `GET /` after it (the client sends close_notify and reads until the server closes, so a rejection after the client's handshake is still seen).
    #[arg(long)]
    pub handshake_only: bool,
    /// Resume TLS sessions (rustls's session cache on the client, tickets from the built-in server) instead of full handshakes.
    #[arg(long)]
    pub resume: bool,
    /// Print the summary as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// For a lab with a `matrix`: the variant to load, e.g. `--variant key=ed25519,tls=1.3`.
    #[arg(long, value_name = "KEY=VALUE,...", value_parser = parse_variant)]
    pub variant: Option<VariantSelection>,
    #[command(flatten)]
    pub vars: VarArgs,
}

/// Parses `NAME` or `NAME=WEIGHT` (weight 1 to 10000; a name may itself hold `=` only with a weight after the last one).
fn parse_weighted(s: &str) -> Result<(String, u32), String> {
    if let Some((name, w)) = s.rsplit_once('=') {
        if let Ok(w) = w.trim().parse::<u32>() {
            if !(1..=10_000).contains(&w) {
                return Err(format!("weight {w} of `{name}`: a weight is 1 to 10000"));
            }
            return Ok((name.to_string(), w));
        }
    }
    if s.is_empty() {
        return Err("an empty case name".into());
    }
    Ok((s.to_string(), 1))
}

/// Parses `--duration` with the lab's duration grammar (`10s`, `500ms`, `2m`; 1 ms to 10 minutes).
fn parse_load_duration(s: &str) -> Result<std::time::Duration, String> {
    mtls_lab::lab::time::parse_duration(s).map_err(|e| e.to_string())
}

/// `${NAME}` values for the paths of `from` in lab files.
#[derive(clap::Args)]
pub struct VarArgs {
    /// Set the path variable NAME (used as `${NAME}` in `from` paths), e.g. --var submission=DIR; repeatable. A relative VALUE is relative to the current directory.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

impl VarArgs {
    /// The variables as the loader takes them.
    pub fn map(&self) -> mtls_lab::lab::Vars {
        self.vars.iter().cloned().collect()
    }
}

/// Parses `NAME=VALUE`, making VALUE absolute; errors (shown by clap) name what is wrong.
fn parse_var(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{name}` is not a variable name (letters, digits, `_`)"
        ));
    }
    if value.is_empty() {
        return Err(format!("`{name}` has an empty value"));
    }
    let value = std::path::absolute(value)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| value.to_string());
    Ok((name.to_string(), value))
}

/// `--variant KEY=VALUE,...`: the matrix values that name one variant.
#[derive(Clone, Debug)]
pub struct VariantSelection(pub Vec<(String, String)>);

/// Parses `KEY=VALUE,KEY=VALUE` (at least one pair, no empty key).
fn parse_variant(s: &str) -> Result<VariantSelection, String> {
    s.split(',')
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not KEY=VALUE"))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(format!("`{pair}` has no variable name"));
            }
            Ok((k.to_string(), v.trim().to_string()))
        })
        .collect::<Result<_, _>>()
        .map(VariantSelection)
}

/// Report files; each is written even when the run errors, and replaced atomically.
#[derive(clap::Args)]
pub struct Reports {
    /// Write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write a JUnit XML report to FILE (one testsuite per lab, one testcase per case).
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
    /// Write a TAP version 14 report to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_tap: Option<PathBuf>,
    /// Write Gradescope's results.json to FILE (tests with score, max_score, status, output; the total score).
    #[arg(long, value_name = "FILE")]
    pub report_gradescope: Option<PathBuf>,
    /// Write a GitHub Classroom grader result to FILE (version, status, max_score, tests).
    #[arg(long, value_name = "FILE")]
    pub report_classroom: Option<PathBuf>,
    /// Write an HTML report to FILE: one self-contained page with a summary, filters, and per case the verdict, the explanation and the certificate chains drawn.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
}

// `--filter` and `--partition`, as given.
#[derive(clap::Args)]
pub struct Selection {
    /// Run only cases whose name (or lab name) contains TEXT, or matches a glob with * and ?, or (tag:NAME) that carry a tag; repeatable (any may match).
    #[arg(long, value_name = "TEXT|GLOB|tag:NAME")]
    pub filter: Vec<String>,
    /// Run only the M-th of N disjoint slices of the selected cases, e.g. slice:1/4 (for CI sharding).
    #[arg(long, value_name = "slice:M/N")]
    pub partition: Option<Partition>,
    /// Only the case CASE and the standard failure cases derived from it (`mtls-lab battery`).
    #[arg(long, value_name = "CASE")]
    pub battery: Option<String>,
}

/// `--color`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `list --format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}
