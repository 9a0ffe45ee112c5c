//! The workflows family's plans (plans/workflows/, docs/test-program/workflows.md).
