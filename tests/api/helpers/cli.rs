//! The real binary, run as a blogger would run it.

use std::process::{Command, Output};

/// Runs `kaffeekasse args…` with only `vars` set, outside the source tree (no stray `.env`).
pub fn kaffeekasse(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("a temporary directory");
    Command::new(env!("CARGO_BIN_EXE_kaffeekasse"))
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(dir.path())
        .output()
        .expect("the binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
