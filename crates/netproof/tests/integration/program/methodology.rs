//! The methodology family's plans (plans/methodology/, docs/test-program/methodology.md).
