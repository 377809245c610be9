//! Verdicts: [`mod@observe`] turns what each side saw into one observed outcome, [`mod@judge`] compares it with
//! the expectation, [`certcheck`] checks certificates' properties, [`explain`] says what a rejection
//! means and the usual fix.

pub mod certcheck;
pub mod explain;
pub mod failing;
pub mod judge;
pub mod observe;
pub mod programs;

pub use judge::{expectation_summary, judge, judge_checks, reason_unsaid};
pub use observe::{
    apply_server_rules, apply_server_words, observe, observe_command, observe_external_handshake,
    observe_external_server, observe_handshake, observe_programs, server_program_exited,
    CommandRun, Observed, ServerWords,
};
