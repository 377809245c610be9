//! The `mtls-lab` command line: parse the arguments, dispatch to the subcommand, exit with its code.
//! The subcommands are in [`cli`]; the work is in the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

use cli::args::{Cli, Command};

fn main() -> ExitCode {
    let args = Cli::parse();
    let color = match &args.command {
        Command::Run(a) => Some(a.color),
        Command::Check(a) => Some(a.color),
        _ => None,
    };
    cli::term::init_tracing(args.verbose, color);
    ExitCode::from(match args.command {
        // -v shows the readable trace of every case.
        Command::Run(mut a) => {
            a.trace |= args.verbose > 0;
            cli::run::run(a)
        }
        Command::Check(a) => cli::check::check(a),
        Command::List(a) => cli::list::list(a),
        Command::Init(a) => cli::init::init(a),
        Command::Schema(a) => cli::schema::schema(a),
        Command::Pki(a) => cli::pki::pki(a),
        Command::Serve(a) => cli::serve::serve(a),
        Command::Show(a) => cli::show::show(a),
        Command::Battery(a) => cli::battery::battery(a),
        Command::Load(a) => cli::load_mode::load(a),
        Command::Limbo(a) => cli::limbo::limbo(a, args.verbose),
    })
}
