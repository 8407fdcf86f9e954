fn main() -> std::process::ExitCode {
    qpose::cli::main()
}
