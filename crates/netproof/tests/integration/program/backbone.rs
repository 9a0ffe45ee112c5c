//! The backbone family's plans (plans/backbone/, docs/test-program/backbone.md).
