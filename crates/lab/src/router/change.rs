//! Routing faults on running daemons: a node stops or starts originating
//! a prefix (`route_withdraw`, `route_announce`), a BGP session's policy
//! changes (`bgp_policy`), and `restore` puts the plan's intent back.
//!
//! Each fault is a change of the node's [`RouterIntent`], and each daemon
//! takes it the way an operator would give it, without a restart (a
//! restart would reset sessions and measure something else):
//!
//! - BIRD: the whole configuration is rendered again from the new intent,
//!   checked with `bird -p`, written over the one it runs and reloaded with
//!   `configure` on its control socket. BIRD reconfigures in place: a
//!   static protocol adds and removes routes, a BGP channel whose filter
//!   changed re-exports (and asks its peer for a route refresh on import)
//!   without dropping the session.
//! - FRR: the difference between the two intents as vtysh commands
//!   ([`frr_delta`]): `ip route ... blackhole` lines added or negated for
//!   prefixes the plan lists one by one, and a changed policy's route map
//!   and prefix list replaced; then `clear bgp ... soft` on each
//!   neighbour whose policy changed, so the change applies now (with
//!   `bgp route-map delay-timer 0`, bgpd applies a changed map to no
//!   route until told). A generated block keeps its static routes when
//!   withdrawn: a prefix list names its prefixes, each export map denies
//!   the node's own static routes on that list, a soft clear out sends
//!   the withdrawals, and OSPF's redistribution passes a route map that
//!   denies them too. Ten thousand `no ip route` lines took FRR about
//!   seven seconds; the list takes it a few commands.
//!
//! Changes to the routers are serialized: two faults at the same instant
//! (a withdrawal of each family) each see the other's result.

use netproof_plan::{BgpPolicy, Daemon, IpNet, Originate};

use super::config::{self, Family, Origination, Policy, RouterIntent};
use super::{NodeRouter, RouterError, Routers, VTYSH, control, run_tool};

impl Routers {
    /// `route_withdraw`: `node` stops originating `prefix` (an
    /// `originate` entry, a generated block by its `within`). Returns
    /// what it did, for the fault's event.
    pub async fn withdraw(&self, node: &str, prefix: IpNet) -> Result<String, RouterError> {
        let _changing = self.changing.lock().await;
        let r = self.changeable(node)?;
        let mut next = r.current_intent().ok_or_else(|| no_intent(node))?;
        let (gone, kept): (Vec<_>, Vec<_>) =
            next.originate.into_iter().partition(|o| lists(o, prefix));
        next.originate = kept;
        if gone.is_empty() {
            return Ok(format!(
                "`{node}` does not originate {prefix} now: nothing to withdraw"
            ));
        }
        next.withdrawn.extend(
            gone.into_iter()
                .filter(|o| matches!(o.what, Originate::Generated { .. })),
        );
        let how = self.apply(r, next).await?;
        Ok(format!("`{node}` withdrew {prefix} ({how})"))
    }

    /// `route_announce`: `node` originates `prefix` again, in the plan's
    /// place among its originations.
    pub async fn announce(&self, node: &str, prefix: IpNet) -> Result<String, RouterError> {
        let _changing = self.changing.lock().await;
        let r = self.changeable(node)?;
        let plan = r.plan_intent.clone().ok_or_else(|| no_intent(node))?;
        let mut next = r.current_intent().ok_or_else(|| no_intent(node))?;
        if next.originate.iter().any(|o| lists(o, prefix)) {
            return Ok(format!(
                "`{node}` already originates {prefix}: nothing to announce"
            ));
        }
        let now = next.originate.clone();
        next.originate = plan
            .originate
            .into_iter()
            .filter(|o| lists(o, prefix) || now.contains(o))
            .collect();
        next.withdrawn.retain(|o| !lists(o, prefix));
        let how = self.apply(r, next).await?;
        Ok(format!("`{node}` announced {prefix} again ({how})"))
    }

    /// `bgp_policy`: the session between `ends` (in its `[[bgp]]` order)
    /// takes the given policies from now on, each direction whole.
    pub async fn set_policy(
        &self,
        ends: &[String; 2],
        a_to_b: Option<&BgpPolicy>,
        b_to_a: Option<&BgpPolicy>,
    ) -> Result<String, RouterError> {
        let mut done = Vec::new();
        let _changing = self.changing.lock().await;
        for (me, peer) in [(0, 1), (1, 0)] {
            let r = self.changeable(&ends[me])?;
            let mut next = r.current_intent().ok_or_else(|| no_intent(&ends[me]))?;
            // What this end announces, and what it receives.
            let (out, inn) = if me == 0 {
                (a_to_b, b_to_a)
            } else {
                (b_to_a, a_to_b)
            };
            for n in next.bgp.iter_mut().filter(|n| n.peer == ends[peer]) {
                if let Some(p) = out {
                    n.export = Policy::export(p, n.family);
                }
                if let Some(p) = inn {
                    n.import = Policy::import(p, n.family);
                }
            }
            done.push(format!("{} {}", ends[me], self.apply(r, next).await?));
        }
        Ok(format!(
            "session {}--{}: new policy ({})",
            ends[0],
            ends[1],
            done.join(", ")
        ))
    }

    /// Puts back the plan's intent on every node a routing fault changed:
    /// a running daemon is reconfigured, a stopped one starts with it
    /// later. Returns the nodes it changed back.
    pub async fn restore_intents(&self) -> Result<Vec<String>, RouterError> {
        let _changing = self.changing.lock().await;
        let mut restored = Vec::new();
        for r in &self.nodes {
            let (Some(plan), Some(now)) = (r.plan_intent.clone(), r.current_intent()) else {
                continue;
            };
            if plan == now {
                continue;
            }
            if r.processes().is_empty() {
                *r.intent() = Some(plan);
            } else {
                self.apply(r, plan).await?;
            }
            restored.push(r.node.clone());
        }
        Ok(restored)
    }

    /// Whether a routing fault left any node's intent changed.
    pub fn intents_changed(&self) -> bool {
        self.nodes
            .iter()
            .any(|r| r.plan_intent.is_some() && r.current_intent() != r.plan_intent)
    }

    fn changeable(&self, node: &str) -> Result<&NodeRouter, RouterError> {
        let r =
            self.nodes.iter().find(|n| n.node == node).ok_or_else(|| {
                RouterError::BadSpec(format!("node `{node}` runs no routing daemon"))
            })?;
        if r.processes().is_empty() {
            return Err(RouterError::BadSpec(format!(
                "node `{node}`'s routing daemons are stopped (a node fault): start them (`node_start`) before changing their routing"
            )));
        }
        Ok(r)
    }

    /// Gives `r`'s running daemon the intent `next`; says how.
    async fn apply(&self, r: &NodeRouter, next: RouterIntent) -> Result<&'static str, RouterError> {
        let now = r.current_intent().ok_or_else(|| no_intent(&r.node))?;
        let how = match r.daemon {
            Daemon::Bird => {
                let text = config::bird::render(&next).text;
                let conf = write_bird_config(r, &text)?;
                let conf_s = conf.display().to_string();
                let (ok, message) =
                    run_tool(super::BIRD, &["-p", "-c", &conf_s], &r.node, 0).await?;
                if !ok {
                    return Err(super::config_error(&r.node, "bird", &conf, message));
                }
                control::bird(&r.dir.bird_socket(), "configure")
                    .await
                    .map_err(|e| not_applied(r, format!("BIRD refused `configure`: {e}")))?;
                "BIRD reconfigured"
            }
            Daemon::Frr => {
                let (commands, clears) = frr_delta(&now, &next);
                let dir = r.dir.path().display().to_string();
                if !commands.is_empty() {
                    let file = r.dir.config("change.conf");
                    std::fs::write(&file, &commands).map_err(|source| RouterError::Files {
                        path: file.clone(),
                        source,
                    })?;
                    let file_s = file.display().to_string();
                    let (ok, message) = run_tool(
                        VTYSH,
                        &["--vty_socket", &dir, "-f", &file_s],
                        &r.node,
                        commands.lines().count(),
                    )
                    .await?;
                    if !ok {
                        return Err(super::config_error(&r.node, "frr", &file, message));
                    }
                }
                for clear in &clears {
                    let (ok, message) =
                        run_tool(VTYSH, &["--vty_socket", &dir, "-c", clear], &r.node, 0).await?;
                    if !ok {
                        return Err(not_applied(r, format!("`{clear}`: {}", message.trim())));
                    }
                }
                "FRR changed in place"
            }
        };
        *r.intent() = Some(next);
        Ok(how)
    }
}

/// Writes BIRD's configuration as [`super::start_bird`] does (its log to
/// stderr appended) and returns its path.
pub(super) fn write_bird_config(
    r: &NodeRouter,
    config: &str,
) -> Result<std::path::PathBuf, RouterError> {
    let conf = r.dir.config("bird.conf");
    let text = format!("{config}\nlog stderr all;\n");
    std::fs::write(&conf, text).map_err(|source| RouterError::Files {
        path: conf.clone(),
        source,
    })?;
    Ok(conf)
}

/// Whether origination `o` is the one `prefix` names.
fn lists(o: &Origination, prefix: IpNet) -> bool {
    match &o.what {
        Originate::Prefix(p) => *p == prefix,
        Originate::Generated { within, .. } => *within == prefix,
        Originate::Loopback => false,
    }
}

fn no_intent(node: &str) -> RouterError {
    RouterError::BadSpec(format!(
        "node `{node}`'s daemons run a configuration written by hand, not rendered from the plan, so a routing fault cannot change it"
    ))
}

fn not_applied(r: &NodeRouter, message: String) -> RouterError {
    RouterError::NotStarted {
        node: r.node.clone(),
        daemon: r.daemon.as_str().to_string(),
        what: "did not take a routing change".into(),
        output: message,
    }
}

/// FRR commands that take a node from intent `old` to `new` (originated
/// prefixes and BGP policies: what routing faults change), and the
/// `clear` commands that apply changed policies at once.
pub fn frr_delta(old: &RouterIntent, new: &RouterIntent) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut clears = Vec::new();
    for family in Family::BOTH {
        let ip = family.ip();
        // Static routes: a withdrawn generated block keeps its own (the
        // gate below holds them back).
        let set = |i: &RouterIntent| -> Vec<IpNet> {
            config::frr::originations(i)
                .flat_map(|o| o.prefixes(i, family).collect::<Vec<_>>())
                .collect()
        };
        let (was, will) = (set(old), set(new));
        let was_set: std::collections::HashSet<&IpNet> = was.iter().collect();
        let will_set: std::collections::HashSet<&IpNet> = will.iter().collect();
        for p in was.iter().filter(|p| !will_set.contains(p)) {
            out.push_str(&format!("no {ip} route {p} blackhole\n"));
        }
        for p in will.iter().filter(|p| !was_set.contains(p)) {
            out.push_str(&format!("{ip} route {p} blackhole\n"));
        }
        let (gate, soft_out) = config::frr::gate_delta(old, new, family);
        out.push_str(&gate);
        clears.extend(soft_out);
    }
    for (o, n) in old.bgp.iter().zip(&new.bgp) {
        for (dir, was, will) in [("in", &o.import, &n.import), ("out", &o.export, &n.export)] {
            if was == will {
                continue;
            }
            let ip = n.family.ip();
            let name = config::frr::map_name(n, dir);
            out.push_str(&format!("no route-map {name}\n"));
            if was.prefixes.as_ref().is_some_and(|p| !p.is_empty()) {
                out.push_str(&format!("no {ip} prefix-list {name}\n"));
            }
            let (local_as, withdrawn) = match dir {
                "out" => (
                    Some(n.local_as),
                    config::frr::withdrawn_list(new, n.family).map(|(list, _)| list),
                ),
                _ => (None, None),
            };
            out.push_str(&config::frr::route_map_text(
                n,
                dir,
                will,
                local_as,
                withdrawn.as_deref(),
            ));
            let clear = format!(
                "clear bgp {} unicast {} soft {dir}",
                n.family.afi(),
                n.address
            );
            if !clears.contains(&clear) {
                clears.push(clear);
            }
        }
    }
    (out, clears)
}
