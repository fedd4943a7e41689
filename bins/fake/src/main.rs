//! `fake`: the csx fake orchestrator extension (state kept in a local file).

fn main() {
    csx_runner::run(csx_runner::App {
        name: "fake",
        version: env!("CARGO_PKG_VERSION"),
        about: "csx fake orchestrator extension for Apache CloudStack: instances live in a local state file",
        custom_actions: csx_fake::custom_actions(),
        keys: csx_fake::KEYS,
        build: csx_fake::FakeBackend::from_payload,
    })
}
