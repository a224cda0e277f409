//! `docs/reference.md`, generated from the command line's own definition.

use super::Cli;

/// `docs/reference.md`: every command's `--help`, as the command line defines it (a test
/// keeps the committed file current; `UPDATE_SNAPSHOTS=1 cargo test … reference` writes it).
pub fn reference_markdown() -> String {
    use clap::CommandFactory;
    // The same text on every machine: a fixed width, and no values from this environment.
    fn tidy(command: clap::Command) -> clap::Command {
        command
            .term_width(100)
            .mut_args(|arg| arg.hide_env_values(true))
            .mut_subcommands(tidy)
    }
    let mut root = tidy(Cli::command());
    let mut out = String::from(
        "# Command-line reference\n\nGenerated from the program's own definition of its options: \
         `pluggedin-mcp --help` and each command's `--help` print the same.\n",
    );
    let mut section = |title: &str, command: &mut clap::Command| {
        out.push_str(&format!(
            "\n## {title}\n\n```text\n{}\n```\n",
            command.render_long_help().to_string().trim_end()
        ));
    };
    section("pluggedin-mcp", &mut root);
    let names: Vec<String> = root
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    for name in names {
        if let Some(sub) = root.find_subcommand_mut(&name) {
            section(&format!("pluggedin-mcp {name}"), sub);
        }
    }
    out
}
