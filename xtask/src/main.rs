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
mod util;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("deadlines") => deadlines::run(&args[1..]),
        Some("package") => package::run(&args[1..]),
        Some("new-adapter") => scaffold::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <demo | bench [--quick] | deadlines [--max SECS] [--record] | package [--check] [--with-fake] | new-adapter NAME>"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e}");
        std::process::exit(1);
    }
}
