#!/usr/bin/env bash
# The test suite: formatting, lints, Rust unit and integration tests, the model tool chain's
# Python tests, a check that the benches still compile, and docs/slurm-array.sh on a one-node
# Slurm cluster (scripts/slurm_e2e.sh: installs slurm-wlm and munge, needs root or sudo). Run
# scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# The library on its own, without the command line's dependencies (the `cli` feature).
cargo clippy --lib --no-default-features --locked -- -D warnings
cargo test --locked
.venv/bin/python -m unittest discover -s models/tests -t . -v
cargo bench --no-run --locked
bash scripts/slurm_e2e.sh
