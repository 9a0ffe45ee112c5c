//! The cdn family's content plans: ranges, fill, offload, hashing and streaming (plans/cdn/, docs/test-program/cdn.md).

prove!(netns_program_range_integrity, "cdn/range-integrity.toml");
prove!(netns_program_fill_hierarchy, "cdn/fill-hierarchy.toml");
prove!(netns_program_offload, "cdn/offload.toml");
prove!(netns_program_cluster_hashing, "cdn/cluster-hashing.toml");
prove!(netns_program_streaming_qoe_timed, "cdn/streaming-qoe.toml");
