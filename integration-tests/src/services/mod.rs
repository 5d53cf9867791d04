//! The long-lived programs some tests talk to, started by the test that needs them and stopped
//! when its guard is dropped: real programs all (Python's http.server, tinyproxy, git
//! http-backend, sshd, dockerd, containerd, Wine, nginx), never stand-ins.
//!
//! Each listens on a port the harness learns from the program or asks the OS for, except the
//! private git server, which must be on port 80: a Go module path names a host, never a port.
//! A guard must be dropped on the thread that made it (a test's own thread): its processes are
//! killed when that thread ends, so that a test binary killed before its guards ran leaves
//! nothing running. Containers carry the label `goapp-e2e.owner=<pid>` and firewall rules the
//! comment `goapp-e2e`, so that a later start (and `up.sh stop`) can remove what a killed
//! binary left.

mod arm64_engine;
mod cache_store;
mod forward_proxy;
mod git_ssh;
mod module_proxy;
mod old_engine;
mod private_git;
mod process;
mod second_engine;
mod wine;

pub use arm64_engine::Arm64Engine;
pub use cache_store::CacheStore;
pub use forward_proxy::ForwardProxy;
pub use git_ssh::GitSsh;
pub use module_proxy::ModuleProxy;
pub use old_engine::OldEngine;
pub use private_git::{PrivateGit, greeter};
pub use process::{Container, Daemon, FirewallRule, free_port};
pub use second_engine::SecondEngine;
pub use wine::Wine;
