# Common tasks. `just --list` shows them.

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/airs/target")

# Run the service on the embedded defaults (SQLite + local disk in ./data).
run *ARGS:
    cargo run -p server -- {{ARGS}}

# The whole test suite, installing and starting what it needs.
test *ARGS:
    ./scripts/test {{ARGS}}

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Apply database migrations to DATABASE_URL (or the default SQLite file).
migrate:
    cargo run -p server -- migrate

# Print the OpenAPI document.
openapi:
    cargo run -q -p server -- openapi

# Benchmarks: every hot route against this machine's ceilings (see bench/run).
bench:
    ./bench/run
