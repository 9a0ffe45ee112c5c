//! The cdn family's plans (plans/cdn/, docs/test-program/cdn.md).

// Steering and the edge's front (docs/test-program/cdn.md).
prove!(
    netns_program_cdn_steering_correctness,
    "cdn/steering-correctness.toml"
);
prove!(
    netns_program_cdn_steering_failover_timed,
    "cdn/steering-failover.toml"
);
prove!(netns_program_cdn_bgp_steering, "cdn/bgp-steering.toml");
prove!(netns_program_cdn_multi_host, "cdn/multi-host.toml");
prove!(netns_program_cdn_drain, "cdn/drain.toml");
