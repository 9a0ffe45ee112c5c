//! `netproof report`: rebuild a run's report from the store.

use std::io::Write;

use netproof_report::{Format, Report};

use super::open_store;
use crate::cli::ReportArgs;
use crate::error::{CliError, Code};

pub fn run(args: ReportArgs, color: bool) -> Result<Code, CliError> {
    let store = open_store(&args.db.db)?;
    let id = store.resolve(&args.run)?;
    let report = Report::load(store.as_ref(), id)?.with_location(store.location());
    let text = if args.format == "text" || args.format == "terminal" {
        report.terminal(color && args.output.is_none())
    } else {
        match args.format.parse::<Format>() {
            Ok(Format::Html) => report.html(),
            Ok(Format::Markdown) => report.markdown(),
            Ok(Format::Junit) => report.junit(),
            Ok(Format::Json) => {
                serde_json::to_string_pretty(&report.json()).unwrap_or_default() + "\n"
            }
            Err(_) => {
                return Err(CliError::Usage(format!(
                    "unknown report format `{}`\nhint: use one of text, html, md, junit, json",
                    args.format
                )));
            }
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, text).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?,
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = out.write_all(text.as_bytes());
        }
    }
    Ok(Code::Success)
}
