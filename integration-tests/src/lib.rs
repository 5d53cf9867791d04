//! The harness of goapp's end-to-end tests (`tests/`): the test environment, commands, the
//! local registry, buildx, and the services the tests run while they need them.
//!
//! The tests need the host that `integration-tests/env/up.sh` provisions (Docker Engine with
//! BuildKit, buildx, QEMU, the local registry, the base images, the files in
//! [`env::Env`]) and the frontend image. They do not skip when it is missing: they fail and
//! say how to set it up. Everything else they start themselves ([`services`]), on ports they
//! detect, and stop when done: a service is a guard, stopped when dropped (a test that panics
//! drops it too), and its processes are killed with the test's thread if the test binary
//! itself is killed. `up.sh stop` removes what a killed binary's containers and firewall rules
//! leave.

pub mod buildx;
pub mod docker;
pub mod env;
pub mod fs;
pub mod registry;
pub mod run;
pub mod services;

/// What nearly every test uses.
pub mod prelude {
    pub use crate::buildx::{buildx, buildx_on, buildx_push, docker_push, pushed, step_outcome};
    pub use crate::docker::{EmulationOff, ask_container, http_get, require_engine};
    pub use crate::env::{env, repo_root};
    pub use crate::fs::{copy_dir, example_variant, temp_dir, walk};
    pub use crate::registry::{
        LayerEntry, PlatformImage, REGISTRY, assert_nowhere, blob, image_files, index_images, index_platforms, layer_entries, layer_listing, manifest_digest,
        registry_json, repo_and_tag, single_image, unique_tag,
    };
    pub use crate::run::{Run, ok, run};
}
