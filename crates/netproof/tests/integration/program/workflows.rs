//! The workflows family's plans (plans/workflows/, docs/test-program/workflows.md).

prove!(
    netns_program_workflows_contribution_feed_timed,
    "workflows/contribution-feed.toml"
);
prove!(
    netns_program_workflows_long_fat_pipe_timed,
    "workflows/long-fat-pipe.toml"
);
