//! The binary's side of mtls-lab: clap types and exit codes ([`args`]), one module per subcommand,
//! loading the labs named on the command line ([`load`]), load mode ([`load_mode`]) and the terminal
//! ([`term`]). The pipeline itself is the library's.

pub mod args;
pub mod battery;
pub mod check;
pub mod class;
pub mod init;
pub mod limbo;
pub mod list;
pub mod load;
pub mod load_mode;
pub mod pki;
pub mod run;
pub mod schema;
pub mod serve;
pub mod show;
pub mod term;
