//! The cdn family's plans (plans/cdn/, docs/test-program/cdn.md).
