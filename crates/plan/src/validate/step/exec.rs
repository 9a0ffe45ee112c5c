//! `kind = "exec"`: a command run on a node, with its environment.

use crate::diagnostic::Finding;
use crate::model::{Exec, NodeAction};
use crate::tree::{Checker, Table};
use crate::validate::{Names, command, optional};

pub(super) fn exec(ck: &mut Checker<'_>, names: &Names, t: &Table<'_, '_>) -> Option<NodeAction> {
    let node = t
        .require(
            ck,
            "node",
            "add `node = \"...\"`, the node to run the command on",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| names.resolve_str(ck, &s));
    let cmd = t
        .require(ck, "command", "add `command = [\"program\", \"arg\"]`")
        .and_then(|v| command(ck, &v, names));
    let env = t.get("env").map(|v| {
        let table = v.string_table(ck)?;
        // Values take the placeholders arguments take, checked the same
        // way (a problem points at the `env` table).
        let mut ok = true;
        let mut out = Vec::with_capacity(table.len());
        for (k, value) in table {
            match crate::arg::parse_arg(&value) {
                Ok((parsed, refs)) => {
                    for r in refs {
                        ok &= names.resolve(ck, &r.name, v.span()).is_some();
                    }
                    out.push((k, parsed));
                }
                Err(e) => {
                    ck.report(
                        Finding::new(v.span(), format!("`env.{k}`: {}", e.message), e.label)
                            .hint(e.hint),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    });
    Some(NodeAction::Exec(Exec {
        node: node?,
        command: cmd?,
        env: optional(env)?.unwrap_or_default(),
    }))
}
