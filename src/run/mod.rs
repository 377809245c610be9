//! Runs validated labs: one PKI per lab, one server per server definition, the cases' results in file
//! order.
//!
//! [`lab`] orchestrates one lab (prepare → endpoints → cases → stop); [`endpoint`] starts its servers;
//! [`case`] runs one case and judges it; [`checks`] runs the certificate checks; [`result`] holds what
//! the reports read; [`load`] repeats cases under concurrent load.

pub mod case;
pub mod checks;
pub mod endpoint;
pub mod lab;
pub mod limbo;
pub mod load;
pub mod pairing;
pub mod result;
pub mod serve;

pub use case::{matched_parts, CaseError};
pub use checks::run_checks;
pub use endpoint::EndpointDown;
pub use lab::{
    default_jobs, run_all, run_all_from, run_all_with_progress, run_lab, run_lab_from,
    run_lab_jobs, run_lab_with_pki, LabError, Progress,
};
pub use result::{
    errored, round_points, CaseContext, CaseResult, Chains, CheckResult, Grade, Hello, LabResult,
    PartResult, Presented, Status,
};
