//! The methodology family's plans (plans/methodology/, docs/test-program/methodology.md).

prove!(
    netns_program_methodology_rfc2544_timed,
    "methodology/rfc2544.toml"
);
prove!(
    netns_program_methodology_rfc6349_timed,
    "methodology/rfc6349.toml"
);
prove!(
    netns_program_methodology_rpm_codel_timed,
    "methodology/rpm-codel.toml"
);
prove!(
    netns_program_methodology_rrul_codel_timed,
    "methodology/rrul-codel.toml"
);
