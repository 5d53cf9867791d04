//! What the caller found out for a plan ([`crate::plan::Plan::images`]): the images it
//! pulls, resolved by BuildKit and (the base) probed for the files the plan asks about.

use std::collections::BTreeMap;

use crate::image::ImageConfig;
use crate::plan::Plan;
use crate::reference::ImageRef;
use crate::spec::User;

/// The builder image after the caller resolved it for the build platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuilderImage {
    /// The reference that is pulled (after the registry mirror, if any).
    pub reference: ImageRef,
    /// The digest it resolved to; the build is pinned to it.
    pub digest: Option<String>,
    /// The image's `Env`, which the build runs with (it carries the PATH to `go`).
    pub env: Vec<String>,
}

/// A pulled runtime base, after the caller resolved and probed it for one target platform
/// (see [`crate::plan::base_probes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseImage {
    /// The reference that is pulled (after the registry mirror, if any).
    pub reference: ImageRef,
    /// The digest it resolved to; the build is pinned to it.
    pub digest: Option<String>,
    /// Its image config, which the image inherits (see `lower::config`).
    pub config: ImageConfig,
    /// Whether it has the CA bundle at [`crate::paths::CA_BUNDLE`] and a `/usr/share/zoneinfo`; what it
    /// lacks is copied from the builder when the spec asks for it.
    pub has_ca_certificates: bool,
    pub has_zoneinfo: bool,
    /// Whether it has glibc's `libc.so.6` (looked for only when the binaries need it).
    pub has_libc: bool,
    /// The user a `runtime.user` name stands for in its `/etc/passwd`
    /// ([`crate::checks::runtime_user`]).
    pub user: Option<User>,
    /// The image that stands in for the spec's base (`--build-context BASE=docker-image://X`),
    /// which `org.opencontainers.image.base.name` then names.
    pub replaced_by: Option<ImageRef>,
}

impl BaseImage {
    /// A base known only by its reference (no BuildKit to resolve it): unpinned, no config
    /// to inherit, and taken to lack the CA bundle and zoneinfo, so that lowering shows every
    /// step goapp may add to it.
    pub fn unresolved(reference: ImageRef) -> Self {
        BaseImage {
            reference,
            digest: None,
            config: ImageConfig::default(),
            has_ca_certificates: false,
            has_zoneinfo: false,
            has_libc: true,
            user: None,
            replaced_by: None,
        }
    }
}

/// What the caller found out for a plan ([`Plan::images`]): the images, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    /// The builder, for the build platform.
    pub builder: BuilderImage,
    /// The builder of each platform whose cgo build runs under emulation, by platform id;
    /// without one that build uses the builder's reference unpinned.
    pub emulated_builders: BTreeMap<String, BuilderImage>,
    /// The runtime base of each target platform, by platform id, when the plan has one.
    pub bases: BTreeMap<String, BaseImage>,
    /// The frontend inputs that named contexts stand for (`input:NAME`, such as a bake
    /// target's result), by name.
    pub inputs: BTreeMap<String, llb::pb::Definition>,
    /// An image with the shared cache's program, compiled for the build platform, at
    /// [`crate::paths::CACHE_PROGRAM`] (the frontend's own image, pinned), for
    /// `go.shared_cache`; without one the program is compiled on the builder.
    pub cache_program: Option<String>,
}

impl Resolved {
    /// Nothing resolved (for the command line, `--call goapp.llb` and the fuzz target): the
    /// images are shown by reference, unpinned, with no inherited environment.
    pub fn unresolved(plan: &Plan) -> Resolved {
        Resolved {
            builder: BuilderImage { reference: plan.images.builder.reference.clone(), digest: None, env: vec![] },
            emulated_builders: BTreeMap::new(),
            bases: plan
                .platforms
                .iter()
                .filter_map(|p| {
                    let b = plan.images.base_for(p)?;
                    Some((p.id(), BaseImage { replaced_by: b.replaced_by.clone(), ..BaseImage::unresolved(b.reference.clone()) }))
                })
                .collect(),
            inputs: BTreeMap::new(),
            cache_program: None,
        }
    }
}
