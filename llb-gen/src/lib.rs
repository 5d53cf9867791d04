//! goapp's Go app spec and its translation to BuildKit LLB.
//!
//! The pipeline is `load` (YAML bytes → [`Spec`], or every problem at once as
//! [`Diagnostics`]) → `lower` (spec + a target platform + facts resolved by the caller →
//! an LLB definition and an image config). Everything here is pure and synchronous: no I/O, no
//! async, no clock. The caller (the gateway frontend, the local command line, tests) resolves
//! images and reads files and passes the results in, so every output is a function of inputs.

pub mod checks;
pub mod context;
pub mod diag;
pub mod golang;
pub mod image;
pub mod load;
pub mod lower;
pub mod paths;
pub mod plan;
pub mod reference;
pub mod resolved;
pub mod sbom;
pub mod schema;
pub mod spec;
pub mod toolchain;

pub use diag::{Diagnostic, Diagnostics, Severity, Span};
pub use load::{ArgRef, Loaded, load};
pub use lower::{BaseImage, BuilderImage, Lowered, Resolved, lower};
pub use plan::{BuildFacts, Plan, PlanError, Request, ResultKind, plan};
pub use spec::Spec;
