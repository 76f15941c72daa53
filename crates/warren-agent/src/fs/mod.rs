//! The filesystem side of the API: path rules ([`path`]), `EntryInfo` ([`entry`]), the
//! `filesystem.Filesystem` operations ([`ops`]) and the plain-HTTP `/files` routes
//! ([`files_http`]).

pub mod archive;
pub mod entry;
pub mod files_http;
pub mod ops;
pub mod path;
pub mod perms;
pub mod watch;
pub mod xattr;
