//! The sandboxes' DNS resolver (being written).
