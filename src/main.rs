use clap::Parser;
use kdeck::cli::Cli;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if !cli.global.verbose {
        // One-paragraph errors for operators; backtraces only with -v.
        std::env::set_var("RUST_BACKTRACE", "0");
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    if let Err(e) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .display_location_section(cli.global.verbose)
        .install()
    {
        eprintln!("kdeck: {e}");
    }
    let _ = kdeck::logging::init(cli.global.log_file.as_deref(), cli.global.verbose);
    match kdeck::commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            if cli_verbose() {
                eprintln!("Error: {e:?}");
            } else {
                eprintln!("Error: {e:#}");
            }
            std::process::ExitCode::from(1)
        }
    }
}

fn cli_verbose() -> bool {
    std::env::args().any(|a| a == "-v" || a == "--verbose")
}
