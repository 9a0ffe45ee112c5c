//! The datacenter family's plans (plans/datacenter/, docs/test-program/datacenter.md).
