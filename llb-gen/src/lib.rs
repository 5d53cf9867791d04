//! goapp's Go app spec and its translation to BuildKit LLB.
//!
//! The pipeline is `load` (YAML bytes → [`Spec`], or every problem at once as
//! [`Diagnostics`]) → `lower` (spec + a target platform + facts resolved by the caller →
//! an LLB definition and an image config). Everything here is pure and synchronous: no I/O, no
//! async, no clock. The caller (the gateway frontend, the local command line, tests) resolves
//! images and reads files and passes the results in, so every output is a function of inputs.

/// An error that is a sentence for the user: a type of its own (so that callers can tell
/// the errors apart), shown as its text, and turned back into that text where a message is
/// built.
macro_rules! text_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
        #[error("{0}")]
        pub struct $name(pub String);

        impl From<$name> for String {
            fn from(e: $name) -> String {
                e.0
            }
        }
    };
}

pub mod checks;
pub mod context;
pub mod diag;
pub mod golang;
pub mod image;
pub mod infer;
pub mod load;
pub mod lower;
pub mod paths;
pub mod plan;
pub mod reference;
pub mod resolved;
pub mod sbom;
pub mod schema;
pub mod spec;
pub mod stamp;
pub mod toolchain;

pub use diag::{Diagnostic, Diagnostics, Severity, Span};
pub use load::{ArgRef, Loaded, load, load_stamped};
pub use lower::{BaseImage, BuilderImage, Lowered, Resolved, lower};
pub use plan::{BuildFacts, Plan, PlanError, PlatformsFrom, Request, ResultKind, plan};
pub use spec::Spec;
