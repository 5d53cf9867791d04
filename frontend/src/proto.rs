//! The generated gateway protocol types and client, nested by protobuf package so that the
//! generated cross-package paths resolve. LLB types (`pb.*`) are `llb::pb`.
#![allow(clippy::all, missing_docs)]

pub mod moby {
    pub mod buildkit {
        pub mod v1 {
            pub mod frontend {
                include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.frontend.rs"));
            }
            pub mod apicaps {
                include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.apicaps.rs"));
            }
            pub mod types {
                include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.types.rs"));
            }
        }
    }
}

pub mod fsutil {
    pub mod types {
        include!(concat!(env!("OUT_DIR"), "/fsutil.types.rs"));
    }
}

pub mod google {
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

pub use moby::buildkit::v1::frontend as gw;
pub use moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
