//! Command-line scaffolding shared by the examples: usage, exit status and error chains.
#![allow(dead_code)] // each example uses a different subset

use std::error::Error;
use std::process::ExitCode;

/// Prints `name: err` and each of its causes (`  caused by: ...`) to stderr; exit status 1.
pub fn fail(name: &str, err: &dyn Error) -> ExitCode {
    let mut message = format!("{name}: {err}");
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    eprintln!("{message}");
    ExitCode::FAILURE
}

/// An example's `main`: `parse` gives the arguments, `None` for `--help` (prints `usage`, exit
/// status 0) or a usage error (printed with `usage`, exit status 2); then `run`, whose error is
/// printed by [`fail`].
pub fn main<A>(
    name: &str,
    usage: &str,
    parse: impl FnOnce() -> Result<Option<A>, String>,
    run: impl FnOnce(&A) -> Result<(), Box<dyn Error>>,
) -> ExitCode {
    let args = match parse() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{name}: {e}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(name, &*err),
    }
}
