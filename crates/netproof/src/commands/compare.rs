//! `netproof compare`: two runs side by side, regressions flagged.

use netproof_report::{Report, compare};

use super::open_store;
use crate::cli::CompareArgs;
use crate::error::{CliError, Code};

pub fn run(args: CompareArgs, color: bool) -> Result<Code, CliError> {
    let store = open_store(&args.db.db)?;
    let a = store.resolve(&args.a)?;
    let b = store.resolve(&args.b)?;
    let ra = Report::load(store.as_ref(), a)?;
    let rb = Report::load(store.as_ref(), b)?;
    let cmp = compare(&ra, &rb);
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&cmp).unwrap_or_default());
    } else if args.markdown {
        out!("{}", cmp.markdown());
    } else {
        out!("{}", cmp.terminal(color));
    }
    Ok(if cmp.has_regressions() {
        Code::Failed
    } else {
        Code::Success
    })
}
