//! The backbone family's plans (plans/backbone/, docs/test-program/backbone.md).

// Convergence times against a 1 ms packet grid and a 10 ms route poller:
// timed, so they run alone.
prove!(
    netns_program_ospf_convergence_timed,
    "backbone/ospf-convergence.toml"
);
prove!(
    netns_program_ebgp_convergence_timed,
    "backbone/ebgp-convergence.toml"
);
prove!(netns_program_bgp_policy, "backbone/bgp-policy.toml");
prove!(netns_program_bird_vs_frr_timed, "backbone/bird-vs-frr.toml");
