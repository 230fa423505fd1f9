use clap::Parser;

use kdeck::cli::Cli;

/// The command line, with a Kamal alias (`aliases:` in deploy.yml) expanded when the first
/// command is not one of kdeck's (an alias may name another, up to a few levels).
fn parse() -> Result<Cli, clap::Error> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let mut args: Vec<String> = std::env::args().collect();
    for _ in 0..5 {
        match Cli::try_parse_from(&args) {
            Err(e) if e.kind() == ErrorKind::InvalidSubcommand => {
                let Some(ContextValue::String(name)) = e.get(ContextKind::InvalidSubcommand) else { return Err(e) };
                match kdeck::app::alias::expand(&args, name) {
                    Some(expanded) => args = expanded,
                    None => return Err(e),
                }
            }
            other => return other,
        }
    }
    Cli::try_parse_from(&args)
}

fn main() -> std::process::ExitCode {
    let cli = match parse() {
        Ok(c) => c,
        Err(e) => {
            // Help/version print to stdout and exit 0; usage errors exit 1 like Kamal (clap uses 2).
            let _ = e.print();
            // A bare group (`kdeck app`) shows its help and exits 0, as Thor does.
            use clap::error::ErrorKind;
            let help = !e.use_stderr() || matches!(e.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand);
            return std::process::ExitCode::from(if help { 0 } else { 1 });
        }
    };
    if !cli.global.verbose {
        // One-paragraph errors for operators; backtraces only with -v.
        std::env::set_var("RUST_BACKTRACE", "0");
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    if let Err(e) =
        color_eyre::config::HookBuilder::default().display_env_section(false).display_location_section(cli.global.verbose).panic_section(PANIC_REPORT).install()
    {
        eprintln!("kdeck: {e}");
    }
    let _ = kdeck::logging::init(cli.global.log_file.as_deref(), cli.global.verbose);
    use kdeck::cli::Command;
    let res = match &cli.command {
        None => kdeck::tui::live::run_dashboard(&cli.global, false, false),
        Some(Command::Dashboard(d)) => kdeck::tui::live::run_dashboard(&cli.global, d.read_only, d.skip_push),
        Some(Command::Workspace(w)) => kdeck::tui::live::run_workspace(&cli.global, w),
        Some(_) => kdeck::commands::run(cli),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            if cli_verbose() {
                kdeck::app::out::err(&format!("Error: {e:?}"));
            } else {
                kdeck::app::out::err(&format!("Error: {e:#}"));
            }
            std::process::ExitCode::from(1)
        }
    }
}

/// Printed under a panic: it is kdeck's bug, never the operator's input.
const PANIC_REPORT: &str = "This is a bug in kdeck, not in your configuration. Please file it in kamal-deck's issue tracker \
(README: \"Reporting a bug\") with this message, the command you ran and, run again with -v, the backtrace.";

fn cli_verbose() -> bool {
    std::env::args().any(|a| a == "-v" || a == "--verbose")
}
