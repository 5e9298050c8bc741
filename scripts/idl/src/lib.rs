//! The interface definition compiler: definition files to stubs, dispatch and descriptors.
//!
//! Every IPC interface of Septa is written once, as a TOML file in `interfaces/definitions/`
//! (the format is described in `interfaces/README.md`). This crate reads those files and
//! produces everything that must agree with them, so that no constant is kept in sync by hand:
//!
//! - [`parse`], [`parse_file`] and [`parse_directory`] read and validate definitions into
//!   [`Interface`]s, rejecting mistakes with a [`Diagnostic`] that names the file, the line and
//!   the fix;
//! - [`Interface::descriptor`] gives the security monitor's [`InterfaceDescriptor`], which the
//!   image tool compiles into each system's policy;
//! - [`generate`] writes the Rust source of the client stubs and server dispatchers that
//!   `interfaces/build.rs` includes into the `septa-interfaces` crate.
//!
//! Field placement is never decided here: offsets and sizes come from [`septa_abi::layout`],
//! the same code the monitor decodes with.
//!
//! [`InterfaceDescriptor`]: septa_monitor::InterfaceDescriptor
#![forbid(unsafe_code)]

mod definition;
mod diagnostic;
mod generator;
mod names;

pub use definition::{Field, Interface, Method, parse, parse_directory, parse_file};
pub use diagnostic::{Diagnostic, line_of};
pub use generator::generate;
pub use names::{kind_from_name, kind_name};
