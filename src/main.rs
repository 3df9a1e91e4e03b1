//! The `vstyle` command; everything lives in the library (`vstyle::cli`).

fn main() -> std::process::ExitCode {
    vstyle::cli::main()
}
