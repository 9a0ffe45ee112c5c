//! `kind = "exec"`: a command run on a node, with its environment.

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
    let env = t.get("env").map(|v| v.string_table(ck));
    Some(NodeAction::Exec(Exec {
        node: node?,
        command: cmd?,
        env: optional(env)?.unwrap_or_default(),
    }))
}
