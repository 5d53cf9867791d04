//! Paths in the images goapp makes and in the builder it runs steps on: one place for each,
//! for the loader's checks, the plan's probes of a base and the lowering.

/// Where the binaries are installed in the image.
pub const BIN_DIR: &str = "/usr/local/bin";
/// The CA certificate bundle, as Debian and the official Go images keep it.
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The time zone database.
pub const ZONEINFO: &str = "/usr/share/zoneinfo";
/// The users of an image.
pub const PASSWD: &str = "/etc/passwd";
/// The `PATH` of an image whose base sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the Go toolchain keeps downloaded modules and compiled packages in the builder.
pub const GOMODCACHE: &str = "/go/pkg/mod";
pub const GOCACHE: &str = "/root/.cache/go-build";
/// Where the context is mounted for the `go` commands, and where `go build` writes.
pub const SRC: &str = "/src";
pub const OUT: &str = "/out";

/// Where the binaries are installed in a Windows image: `C:\app`. The paths of a Windows
/// image's layers are written as on Linux; BuildKit puts them under the drive's `Files/`.
pub const WINDOWS_BIN_DIR: &str = "/app";

/// An absolute path of the image (`/data/app`) as a Windows program sees it: `C:\data\app`.
pub fn windows_path(path: &str) -> String {
    format!("C:{}", if path == "/" { "\\".to_string() } else { path.replace('/', "\\") })
}

/// Where the frontend's image has the shared cache's program (`go.shared_cache`), compiled
/// for its platform.
pub const CACHE_PROGRAM: &str = "/lib/goapp/goapp-cache";
