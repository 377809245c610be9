//! The integration tests, one binary (the crate links once), one module per topic. Tests that use the
//! seed's fixed port 4443 take turns through [`common::seed_port`].

mod common;

mod authoring;
mod battery;
mod battery_peers;
mod battery_reports;
mod battery_unsaid;
mod catalogue;
mod check_warnings;
mod class;
mod classification;
mod cli;
mod differences;
mod explain;
mod explanations;
mod exports;
mod grading;
mod handshake;
mod hermetic;
mod hostile;
mod html;
mod invalid_labs;
mod judging;
mod limbo;
mod load;
mod openssl_crosscheck;
mod peers;
mod persist;
mod predictions;
mod programs;
mod prop;
mod reasons;
mod report_goldens;
mod reports;
mod safe_outputs;
mod shapes;
mod teaching;
mod trace;
mod transport;
