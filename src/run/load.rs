//! Load mode: one lab's cases repeated by many concurrent built-in clients against the lab's server,
//! each connection observed and judged as `run` judges the case (`case::Repeatable`, [`verdict`]),
//! counted by verdict, with the latency of every connection in an HDR histogram.
//!
//! The lab is staged as `run` stages it (`run::lab::stage`: ports, exported PKI, servers); the cases are mixed
//! by weight in a fixed smooth weighted round-robin order, so that `--count` gives each case an exact
//! share.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::lab::{Case, Expectation, Lab, ServerKind, Side};
use crate::pki::{self, Pki};
use crate::run::case::CaseError;
use crate::run::endpoint::Endpoint;
use crate::run::lab::{stage, LabError};
use crate::run::pairing::Repeatable;
use crate::tls::client::Exchange;
use crate::verdict;

/// The most weight all cases of a load may have together (the length of the mixing order).
pub const MAX_TOTAL_WEIGHT: u32 = 10_000;

/// The most distinct error texts counted per case; later ones count under one entry.
const MAX_ERROR_KINDS: usize = 16;

/// What to load: which cases by weight, how many clients at once, for how long.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Case names with their weights (each at least 1).
    pub cases: Vec<(String, u32)>,
    /// Clients connecting at the same time (at least 1).
    pub connections: usize,
    pub until: Until,
    /// `GET /` after each handshake, or the handshake only.
    pub exchange: Exchange,
    /// Resume sessions (each case's client keeps a session cache) instead of full handshakes.
    pub resume: bool,
}

/// When a load stops starting new connections.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this many connections in all.
    Count(u64),
    /// After this long (connections under way then finish).
    Duration(Duration),
}

/// Why a load could not run. [`LoadError::is_input`] tells bad input (nothing ran) from a run that could
/// not proceed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A case runs a client command: load mode repeats the built-in client only.
    #[error("case `{0}` runs a client command; load repeats the built-in client only (run it with `mtls-lab run`)")]
    ClientCommand(String),
    /// A case of the plan could not be prepared (its files are unusable, rustls refused its configuration).
    #[error("case `{case}`: {error}")]
    Case { case: String, error: Box<CaseError> },
    /// The lab could not be staged (ports, export, a built-in server).
    #[error(transparent)]
    Lab(Box<LabError>),
    /// No case was named.
    #[error("no case to load: name one with --case NAME")]
    NoCase,
    /// Zero connections.
    #[error("--connections must be at least 1")]
    NoConnections,
    /// The lab has no case of this name; `suggestion` is the closest name, `cases` every name.
    #[error("the lab has no case named `{name}`{}; its cases: {}", .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(), .cases.join(", "))]
    NoSuchCase {
        name: String,
        suggestion: Option<String>,
        cases: Vec<String>,
    },
    /// The PKI could not be generated.
    #[error("cannot build the PKI: {0}")]
    Pki(Box<pki::PkiError>),
    /// A case checks what a server command printed, which cannot be told apart between concurrent connections.
    #[error("case `{0}` checks the server command's output (`server_output`), which concurrent connections share; load cannot judge it")]
    ServerOutput(String),
    /// A case expects a server command to reject for a reason its alert does not name (`expired` behind
    /// `certificate_expired`): `run` decides it from the program's own words, which concurrent connections share.
    #[error("case `{case}` expects the server command to reject with reason `{reason}`, which its alert does not tell apart; `run` decides it from the program's own output, which concurrent connections share, so load cannot judge it (run it with `mtls-lab run`)")]
    ProgramReason { case: String, reason: String },
    /// The case's server did not start.
    #[error("case `{case}`: {error}")]
    ServerDown {
        case: String,
        error: crate::run::endpoint::EndpointDown,
    },
    /// A case's server shares a fixed port with another server of the lab: `run` gives them turns on
    /// it, one case at a time; load connects many at once, to servers started before.
    #[error("case `{0}`: its server shares a fixed port with another server of the lab, which take turns on it one case at a time under `mtls-lab run`; load cannot (give the servers no fixed `listen`)")]
    TakesTurns(String),
    /// A case with weight 0.
    #[error("case `{0}` has weight 0; a weight is at least 1")]
    ZeroWeight(String),
    /// Weights adding up to more than [`MAX_TOTAL_WEIGHT`].
    #[error("the weights add up to {0}, more than {MAX_TOTAL_WEIGHT}")]
    TooMuchWeight(u64),
}

impl LoadError {
    /// Whether this is bad input (exit 2): nothing was started.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            LoadError::ClientCommand(_)
                | LoadError::NoCase
                | LoadError::NoConnections
                | LoadError::NoSuchCase { .. }
                | LoadError::ServerOutput(_)
                | LoadError::ProgramReason { .. }
                | LoadError::TakesTurns(_)
                | LoadError::ZeroWeight(_)
                | LoadError::TooMuchWeight(_)
        )
    }
}

/// Live counters of a running load, for a progress line.
#[derive(Debug, Default)]
pub struct LoadProgress {
    /// Connections finished.
    pub done: AtomicU64,
    /// Of those, the ones whose verdict differs from the case's expectation.
    pub wrong: AtomicU64,
    /// Of those, the ones that could not run (no verdict).
    pub errors: AtomicU64,
}

/// The result of a load: how many connections, how fast, and every verdict counted per case.
#[derive(Debug, Clone, Serialize)]
pub struct LoadSummary {
    pub lab: String,
    pub file: String,
    pub connections: usize,
    /// The `--count` asked for, if any.
    pub count: Option<u64>,
    /// The `--duration` asked for, in milliseconds, if any.
    pub duration_ms: Option<u64>,
    pub handshake_only: bool,
    pub resume: bool,
    /// Connections made (each one handshake).
    pub handshakes: u64,
    /// Of those, handshakes that resumed a session.
    pub resumed: u64,
    /// Of those, verdicts that differ from the case's expectation (errors included).
    pub wrong: u64,
    /// Of those, connections that could not run at all (no verdict).
    pub errors: u64,
    /// From the first connection to the end of the last, in milliseconds.
    pub elapsed_ms: f64,
    pub handshakes_per_second: f64,
    /// Latency of one connection (connect, handshake, request if any, both verdicts), in milliseconds.
    pub latency_ms: Latency,
    /// Per case, in the order given.
    pub cases: Vec<CaseLoad>,
}

/// Percentiles of connection latency, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// One case's share of a load.
#[derive(Debug, Clone, Serialize)]
pub struct CaseLoad {
    pub name: String,
    pub weight: u32,
    /// The expectation, as `accepted` or `rejected by server: certificate_required`.
    pub expected: String,
    pub handshakes: u64,
    pub resumed: u64,
    pub wrong: u64,
    pub errors: u64,
    /// Each verdict observed, with its count, in order of the verdict text.
    pub verdicts: Vec<VerdictCount>,
}

/// How often one verdict was observed.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictCount {
    /// `accepted`, `rejected by server: certificate_required`, or `error: …` for a connection that could not run.
    pub verdict: String,
    pub count: u64,
    /// Whether it meets the case's expectation.
    pub as_expected: bool,
}

/// The cases of `plan` as indices into `lab.cases` with their weights, checked: every name exists, no
/// case runs a client command, checks a server command's output or expects a server command to reject
/// for a reason only its output tells, weights are within bounds.
///
/// # Errors
/// The first problem, as an input [`LoadError`].
pub fn plan_cases(lab: &Lab, plan: &LoadPlan) -> Result<Vec<(usize, u32)>, LoadError> {
    if plan.connections == 0 {
        return Err(LoadError::NoConnections);
    }
    if plan.cases.is_empty() {
        return Err(LoadError::NoCase);
    }
    let mut out = Vec::new();
    let mut total = 0u64;
    for (name, weight) in &plan.cases {
        let Some(i) = lab.cases.iter().position(|c| &c.name == name) else {
            let names: Vec<String> = lab.cases.iter().map(|c| c.name.clone()).collect();
            let suggestion = names
                .iter()
                .map(|n| (strsim::jaro_winkler(n, name), n))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, n)| n.clone());
            return Err(LoadError::NoSuchCase {
                name: name.clone(),
                suggestion,
                cases: names,
            });
        };
        let case = &lab.cases[i];
        if case.client.command.is_some() {
            return Err(LoadError::ClientCommand(name.clone()));
        }
        if case.checks.server_output.is_some() {
            return Err(LoadError::ServerOutput(name.clone()));
        }
        if crate::run::endpoint::taking_turns(lab).contains(&case.server) {
            return Err(LoadError::TakesTurns(name.clone()));
        }
        if let (
            Expectation::Rejected {
                by: Some(Side::Server),
                reason: Some(reason),
            },
            Some(ServerKind::Command(_)),
        ) = (&case.expect, lab.servers.get(case.server).map(|s| &s.kind))
        {
            if !crate::reason::readable_from_alert(*reason) {
                return Err(LoadError::ProgramReason {
                    case: name.clone(),
                    reason: reason.to_string(),
                });
            }
        }
        if *weight == 0 {
            return Err(LoadError::ZeroWeight(name.clone()));
        }
        total += u64::from(*weight);
        out.push((i, *weight));
    }
    if total > u64::from(MAX_TOTAL_WEIGHT) {
        return Err(LoadError::TooMuchWeight(total));
    }
    Ok(out)
}

/// The order in which weighted slots take turns: smooth weighted round-robin (nginx's), so that with
/// weights 9 and 1 the second slot comes once in every ten, spread out. Its length is the total weight.
fn mixing_order(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|w| i64::from(*w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(total.max(0) as usize);
    for _ in 0..total {
        for (c, w) in current.iter_mut().zip(weights) {
            *c += i64::from(*w);
        }
        let best = (0..weights.len())
            .max_by_key(|&i| (current[i], std::cmp::Reverse(i)))
            .unwrap_or(0);
        current[best] -= total;
        out.push(best);
    }
    out
}

/// What every client of a load shares.
struct Shared {
    lab: Arc<Lab>,
    servers: Arc<HashMap<usize, Endpoint>>,
    /// Per slot: the case index and the prepared case.
    slots: Vec<(usize, Repeatable, Expectation)>,
    order: Vec<usize>,
    next: AtomicU64,
    until: Until,
    deadline: Instant,
    exchange: Exchange,
    progress: Arc<LoadProgress>,
}

/// What one client counted.
struct Tally {
    latency: Histogram<u64>,
    /// Per slot: verdict text → (count, as expected); resumed; wrong; errors.
    slots: Vec<SlotTally>,
}

#[derive(Default)]
struct SlotTally {
    verdicts: HashMap<String, (u64, bool)>,
    handshakes: u64,
    resumed: u64,
    wrong: u64,
    errors: u64,
}

/// Runs `plan` against `lab`: builds its PKI, stages it as `run` does, then keeps `plan.connections`
/// clients connecting until `plan.until`, updating `progress` as connections finish.
///
/// # Errors
/// An input [`LoadError`] (see [`plan_cases`]) before anything starts; the PKI, the staging, a case
/// that cannot be prepared or a server that did not start otherwise.
pub async fn run_load(
    lab: &Lab,
    plan: &LoadPlan,
    progress: Arc<LoadProgress>,
) -> Result<LoadSummary, LoadError> {
    let planned = plan_cases(lab, plan)?;
    let for_pki = lab.clone();
    let pki: Arc<Pki> = match tokio::task::spawn_blocking(move || pki::build(&for_pki)).await {
        Ok(Ok(p)) => Arc::new(p),
        Ok(Err(e)) => return Err(LoadError::Pki(Box::new(e))),
        Err(e) => return Err(LoadError::Lab(Box::new(LabError::PkiCrashed(e)))),
    };
    let lab = Arc::new(pki::with_loaded_facts(lab, &pki));
    let mut slots = Vec::with_capacity(planned.len());
    for &(i, _) in &planned {
        let case = &lab.cases[i];
        let repeatable =
            Repeatable::new(&lab, &pki, case, plan.resume).map_err(|e| LoadError::Case {
                case: case.name.clone(),
                error: Box::new(e),
            })?;
        slots.push((i, repeatable, expectation(case, plan.exchange)));
    }
    let mut staged = stage(&lab, &pki)
        .await
        .map_err(|e| LoadError::Lab(Box::new(e)))?;
    for &(i, _) in &planned {
        let case = &lab.cases[i];
        if let Some(Endpoint::Down(down)) = staged.servers.get(&case.server) {
            let error = down.clone();
            staged.stop().await;
            return Err(LoadError::ServerDown {
                case: case.name.clone(),
                error,
            });
        }
    }
    let servers = Arc::new(std::mem::take(&mut staged.servers));
    let weights: Vec<u32> = planned.iter().map(|(_, w)| *w).collect();
    let started = Instant::now();
    let shared = Arc::new(Shared {
        lab: lab.clone(),
        servers: servers.clone(),
        slots,
        order: mixing_order(&weights),
        next: AtomicU64::new(0),
        until: plan.until,
        deadline: match plan.until {
            Until::Duration(d) => started + d,
            Until::Count(_) => started,
        },
        exchange: plan.exchange,
        progress,
    });
    let handles: Vec<_> = (0..plan.connections)
        .map(|_| tokio::spawn(client(shared.clone())))
        .collect();
    let mut tallies = Vec::with_capacity(handles.len());
    for h in handles {
        // A client task that panicked counted nothing; the others' counts stand.
        if let Ok(t) = h.await {
            tallies.push(t);
        }
    }
    let elapsed = started.elapsed();
    drop(shared);
    // Every client task was awaited: this is the last holder of the servers, which come back to be stopped.
    staged.servers = Arc::try_unwrap(servers)
        .unwrap_or_else(|_| unreachable!("every load client task was awaited"));
    staged.stop().await;
    Ok(summarize(&lab, plan, &planned, tallies, elapsed))
}

/// The expectation a connection is judged by: the case's, without the HTTP status when no request is sent.
fn expectation(case: &Case, exchange: Exchange) -> Expectation {
    match (&case.expect, exchange) {
        (Expectation::Accepted { server_saw, .. }, Exchange::HandshakeOnly) => {
            Expectation::Accepted {
                server_saw: server_saw.clone(),
                status: None,
            }
        }
        (e, _) => e.clone(),
    }
}

/// One client: takes the next turn until the load is over, connects, judges, counts.
async fn client(shared: Arc<Shared>) -> Tally {
    let mut tally = Tally {
        // 1 µs to 10 minutes, 3 significant figures (HdrHistogram's usual precision).
        latency: Histogram::new_with_bounds(1, 600_000_000, 3)
            .expect("the bounds are valid: 1 <= low, high >= 2 * low, 3 significant figures"),
        slots: (0..shared.slots.len())
            .map(|_| SlotTally::default())
            .collect(),
    };
    loop {
        let turn = shared.next.fetch_add(1, Ordering::Relaxed);
        let over = match shared.until {
            Until::Count(n) => turn >= n,
            Until::Duration(_) => Instant::now() >= shared.deadline,
        };
        if over {
            break;
        }
        let slot = shared.order[(turn % shared.order.len() as u64) as usize];
        let (i, repeatable, expected) = &shared.slots[slot];
        let case = &shared.lab.cases[*i];
        let Some(endpoint) = shared.servers.get(&case.server) else {
            break;
        };
        let t = Instant::now();
        let once = repeatable.once(case, endpoint, shared.exchange).await;
        tally
            .latency
            .saturating_record(t.elapsed().as_micros() as u64);
        let s = &mut tally.slots[slot];
        s.handshakes += 1;
        let (key, ok) = match once {
            Ok(once) => {
                s.resumed += u64::from(once.resumed);
                let ok = verdict::judge(expected, &once.observed).is_empty()
                    && verdict::judge_checks(&case.checks, &once.observed, None, None).is_empty();
                (once.observed.summary(), ok)
            }
            Err(e) => {
                s.errors += 1;
                shared.progress.errors.fetch_add(1, Ordering::Relaxed);
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                let key = if s.verdicts.len() < MAX_ERROR_KINDS
                    || s.verdicts.contains_key(&format!("error: {first}"))
                {
                    format!("error: {first}")
                } else {
                    "error: (other errors)".to_string()
                };
                (key, false)
            }
        };
        if !ok {
            s.wrong += 1;
            shared.progress.wrong.fetch_add(1, Ordering::Relaxed);
        }
        s.verdicts.entry(key).or_insert((0, ok)).0 += 1;
        shared.progress.done.fetch_add(1, Ordering::Relaxed);
    }
    tally
}

/// Adds up every client's tally.
fn summarize(
    lab: &Lab,
    plan: &LoadPlan,
    planned: &[(usize, u32)],
    tallies: Vec<Tally>,
    elapsed: Duration,
) -> LoadSummary {
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)
        .expect("the bounds are valid: 1 <= low, high >= 2 * low, 3 significant figures");
    let mut cases: Vec<CaseLoad> = planned
        .iter()
        .map(|&(i, weight)| CaseLoad {
            name: lab.cases[i].name.clone(),
            weight,
            expected: verdict::expectation_summary(&lab.cases[i].expect),
            handshakes: 0,
            resumed: 0,
            wrong: 0,
            errors: 0,
            verdicts: Vec::new(),
        })
        .collect();
    let mut verdicts: Vec<BTreeMap<String, (u64, bool)>> = vec![BTreeMap::new(); planned.len()];
    for t in tallies {
        // Same bounds on both sides: adding cannot fail.
        let _ = latency.add(&t.latency);
        for (slot, s) in t.slots.into_iter().enumerate() {
            let c = &mut cases[slot];
            c.handshakes += s.handshakes;
            c.resumed += s.resumed;
            c.wrong += s.wrong;
            c.errors += s.errors;
            for (k, (n, ok)) in s.verdicts {
                verdicts[slot].entry(k).or_insert((0, ok)).0 += n;
            }
        }
    }
    for (c, v) in cases.iter_mut().zip(verdicts) {
        c.verdicts = v
            .into_iter()
            .map(|(verdict, (count, as_expected))| VerdictCount {
                verdict,
                count,
                as_expected,
            })
            .collect();
    }
    let handshakes: u64 = cases.iter().map(|c| c.handshakes).sum();
    let ms = |us: u64| us as f64 / 1000.0;
    let secs = elapsed.as_secs_f64();
    LoadSummary {
        lab: lab.name.clone(),
        file: lab.file.display().to_string(),
        connections: plan.connections,
        count: match plan.until {
            Until::Count(n) => Some(n),
            Until::Duration(_) => None,
        },
        duration_ms: match plan.until {
            Until::Duration(d) => Some(d.as_millis() as u64),
            Until::Count(_) => None,
        },
        handshake_only: plan.exchange == Exchange::HandshakeOnly,
        resume: plan.resume,
        handshakes,
        resumed: cases.iter().map(|c| c.resumed).sum(),
        wrong: cases.iter().map(|c| c.wrong).sum(),
        errors: cases.iter().map(|c| c.errors).sum(),
        elapsed_ms: secs * 1000.0,
        handshakes_per_second: if secs > 0.0 {
            handshakes as f64 / secs
        } else {
            0.0
        },
        latency_ms: Latency {
            p50: ms(latency.value_at_quantile(0.5)),
            p90: ms(latency.value_at_quantile(0.9)),
            p99: ms(latency.value_at_quantile(0.99)),
            max: ms(latency.max()),
        },
        cases,
    }
}

#[cfg(test)]
mod tests {
    use super::mixing_order;

    #[test]
    fn weights_nine_and_one_give_one_turn_in_ten_spread_out() {
        let order = mixing_order(&[9, 1]);
        assert_eq!(order.len(), 10);
        assert_eq!(order.iter().filter(|&&s| s == 1).count(), 1);
        assert_eq!(mixing_order(&[1, 1]), vec![0, 1]);
        assert_eq!(mixing_order(&[2, 1]), vec![0, 1, 0]);
    }
}
