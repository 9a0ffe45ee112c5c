//! The office family's plans (plans/office/, docs/test-program/office.md).
