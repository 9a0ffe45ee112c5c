//! `netproof store ...`: work on results databases as a whole. Today one
//! command, `store copy FROM TO`, which moves runs between any two stores
//! (SQLite files, PostgreSQL URLs) through [`netproof_store::copy`]: each run
//! whole, in one transaction, with everything `load_run` returns except its
//! ids, which the destination assigns.

use clap::{Args, Subcommand};
use netproof_store::RunId;
use netproof_store::copy::copy_runs;

use super::open_store;
use crate::error::{CliError, Code};

/// `netproof store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy runs from one results database to another (SQLite <-> PostgreSQL,
    /// or between two of a kind). Each run gets a new id in TO; the mapping
    /// is printed.
    Copy(CopyArgs),
}

/// `netproof store copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The database to copy from: a SQLite file path, `sqlite://PATH`, or
    /// `postgres://USER@HOST/DB`.
    #[arg(value_name = "FROM")]
    pub from: String,
    /// The database to copy into (created or migrated if needed), in the
    /// same forms.
    #[arg(value_name = "TO")]
    pub to: String,
    /// A run to copy (`12`, `latest`, `latest~N`); repeat for more. Without
    /// it, every run of FROM is copied, oldest first.
    #[arg(long = "run", value_name = "RUN")]
    pub runs: Vec<String>,
}

/// Runs a `store` subcommand.
pub fn run(command: StoreCommand) -> Result<Code, CliError> {
    match command {
        StoreCommand::Copy(args) => copy(args),
    }
}

fn copy(args: CopyArgs) -> Result<Code, CliError> {
    let from = open_store(&args.from)?;
    let to = open_store(&args.to)?;
    if from.location() == to.location() {
        return Err(CliError::Usage(format!(
            "FROM and TO are the same database `{}`\nhint: name another database to copy into",
            from.location()
        )));
    }
    let runs = args
        .runs
        .iter()
        .map(|r| from.resolve(r))
        .collect::<Result<Vec<RunId>, _>>()?;
    let copied = copy_runs(&*from, &*to, &runs)?;
    for c in &copied {
        outln!("run {} -> run {}", c.from.0, c.to.0);
    }
    outln!(
        "copied {} run{} from `{}` to `{}`",
        copied.len(),
        if copied.len() == 1 { "" } else { "s" },
        from.location(),
        to.location()
    );
    Ok(Code::Success)
}

#[cfg(test)]
mod tests {
    use netproof_sample::{Sample, Timestamp, metric};
    use netproof_store::postgres::cluster::TestCluster;
    use netproof_store::{NewRun, Owner, RunData, RunStatus, Scope, open};

    use super::*;

    fn sqlite(dir: &tempfile::TempDir, name: &str) -> String {
        dir.path().join(name).display().to_string()
    }

    /// Two finished runs with a few samples each.
    fn write_runs(url: &str) -> Vec<RunData> {
        let store = open(url).unwrap();
        let mut ids = Vec::new();
        for n in 0..2 {
            let run = store
                .begin_run(&NewRun {
                    plan_name: format!("plan-{n}"),
                    plan_path: "p.toml".into(),
                    plan_text: "[plan]".into(),
                    plan_hash: "h".into(),
                    summary: "s".into(),
                    backend: "local".into(),
                    seed: u64::MAX - n,
                    seed_source: "drawn".into(),
                    netproof_version: "0.1.0".into(),
                    command_line: "netproof run p.toml".into(),
                    host: Default::default(),
                    started: Timestamp(1_000),
                    owner: Owner::current(),
                    topology: Default::default(),
                })
                .unwrap();
            let sink = store.sink(Scope {
                run,
                case_run: None,
                step: None,
            });
            for i in 0..10 {
                sink.sample(Sample::num(&metric::EXEC_DURATION, f64::from(i)).at(Timestamp(2_000)));
            }
            store
                .finish_run(run, RunStatus::Passed, Timestamp(3_000))
                .unwrap();
            ids.push(run);
        }
        ids.iter().map(|id| store.load_run(*id).unwrap()).collect()
    }

    fn copy_cmd(from: &str, to: &str, runs: &[&str]) -> Result<Code, CliError> {
        run(StoreCommand::Copy(CopyArgs {
            from: from.into(),
            to: to.into(),
            runs: runs.iter().map(|r| r.to_string()).collect(),
        }))
    }

    #[test]
    fn copy_moves_runs_through_postgres_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let pg_dir = tempfile::tempdir().unwrap();
        let cluster = TestCluster::start(pg_dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (sqlite(&dir, "a.db"), sqlite(&dir, "b.db"));
        let written = write_runs(&a);

        assert!(matches!(
            copy_cmd(&a, cluster.url(), &[]),
            Ok(Code::Success)
        ));
        assert!(matches!(
            copy_cmd(cluster.url(), &b, &[]),
            Ok(Code::Success)
        ));
        let back = open(&b).unwrap();
        let got: Vec<RunData> = back
            .runs(10)
            .unwrap()
            .iter()
            .rev()
            .map(|r| back.load_run(r.id).unwrap())
            .collect();
        assert_eq!(got, written);
    }

    #[test]
    fn copy_of_chosen_runs_and_bad_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (sqlite(&dir, "a.db"), sqlite(&dir, "b.db"));
        let written = write_runs(&a);
        assert!(matches!(copy_cmd(&a, &b, &["latest"]), Ok(Code::Success)));
        let back = open(&b).unwrap();
        let runs = back.runs(10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].info, written[1].run.info);

        let err = copy_cmd(&a, &b, &["4711"]).unwrap_err();
        assert_eq!(err.exit_code(), Code::Usage, "{err}");
        let err = copy_cmd(&a, &a, &[]).unwrap_err();
        assert!(err.to_string().contains("same database"), "{err}");
        assert_eq!(
            back.runs(10).unwrap().len(),
            1,
            "failed copies wrote nothing"
        );
    }
}
