//! `cargo xtask <command>`: the project's automation, in Rust so it runs anywhere cargo does.
//!
//! - `demo`: drive the release binaries through a whole lifecycle and print a table;
//! - `bench`: measure the performance targets and rewrite the tables in BENCHMARKS.md;
//! - `deadlines [--max SECS] [--record]`: every binary against hung hosts, timeouts 1 s to 1800 s;
//! - `package [--check] [--with-fake]`: .deb and .rpm packages in target/dist, validated with real tools;
//! - `new-adapter NAME`: scaffold crates/NAME and bins/NAME for a new backend.

mod bench;
mod check;
mod deadlines;
mod demo;
mod package;
mod scaffold;
mod targets;
mod tidy;
mod util;

use clap::{Parser, Subcommand};

/// The project's automation. Unknown commands and flags are refused, never ignored.
#[derive(Parser)]
#[command(name = "cargo xtask", about = "csx's automation: demo, bench, deadlines, package, new-adapter")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive the release binaries through a whole lifecycle against the mocks.
    Demo,
    /// Measure the performance targets and rewrite the tables in BENCHMARKS.md.
    Bench {
        /// 20 runs per measure instead of 300.
        #[arg(long)]
        quick: bool,
    },
    /// Every binary against hung hosts, timeouts from 1 s up to --max.
    Deadlines {
        /// The longest timeout tried, in seconds.
        #[arg(long, default_value_t = 1800)]
        max: u64,
        /// Rewrite the table in docs/RELIABILITY.md.
        #[arg(long)]
        record: bool,
    },
    /// Build the .deb and .rpm packages into target/dist.
    Package {
        /// Validate them with lintian, rpmlint, scratch-root installs and a second build.
        #[arg(long)]
        check: bool,
        /// Package the fake extension too.
        #[arg(long)]
        with_fake: bool,
    },
    /// Scaffold crates/NAME and bins/NAME for a new backend.
    NewAdapter {
        /// Lower-case letters, digits and `-`, starting with a letter.
        name: String,
        /// Scaffold into a scratch copy of the work tree instead, and check there that the new
        /// adapter builds, passes its tests (clauses pending), clippy and tidy.
        #[arg(long)]
        check: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run(),
        Command::Bench { quick } => bench::run(quick),
        Command::Deadlines { max, record } => deadlines::run(max, record),
        Command::Package { check: false, with_fake } => package::build_all(with_fake).map(drop),
        Command::Package { check: true, with_fake } => {
            package::build_all(with_fake).and_then(|built| check::check(&built, || package::build_all(with_fake)))
        }
        Command::NewAdapter { name, check: false } => scaffold::run(&name),
        Command::NewAdapter { name, check: true } => scaffold::check(&name),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_parsed_and_unknown_ones_refused() {
        let cli = Cli::try_parse_from(["xtask", "package", "--check"]).unwrap();
        assert!(matches!(cli.command, Command::Package { check: true, with_fake: false }));
        let cli = Cli::try_parse_from(["xtask", "deadlines", "--max", "5"]).unwrap();
        assert!(matches!(cli.command, Command::Deadlines { max: 5, record: false }));
        for bad in [&["xtask", "package", "--chek"][..], &["xtask", "deadlines", "--max", "x"], &["xtask", "nope"]] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
