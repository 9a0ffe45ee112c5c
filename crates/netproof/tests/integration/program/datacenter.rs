//! The datacenter family's plans (plans/datacenter/, docs/test-program/datacenter.md).

prove!(
    netns_program_leaf_spine_ecmp_timed,
    "datacenter/leaf-spine-ecmp.toml"
);
// Flow completion times and probe RTTs through a 100 Mbit/s emulated port.
prove!(netns_program_incast_timed, "datacenter/incast.toml");
