package lady.cli;

/** Output formats of commands that print results. */
enum OutputFormat {
    text, json
}
