#!/usr/bin/env python3
"""Writes the layer of a stand-in Windows base image (for nanoserver or servercore, which the
tests cannot pull): a tarball in the Windows layer format, as Windows' own layers are.

    windows-layer.py OUT.tar --edition NAME --os-version X.Y.Z.N

The format: every file of the container's C: drive is under `Files/` (C:\\Windows is
`Files/Windows`), the registry hives are under `Hives/`, and each entry carries the PAX
records Windows reads: `MSWINDOWS.fileattr` (the file attributes, in decimal),
`MSWINDOWS.rawsd` (the security descriptor, base64) and `LIBARCHIVE.creationtime` (the
creation time). A directory's name has no trailing slash, as in the layers Windows (hcsshim)
and BuildKit write: BuildKit on Linux applies only the entries under `Files/` of such a layer
(an entry named `Files/` would be one for the image's root), and writes the same format for
the layers it adds.

The stand-in has the directories a Windows container starts in and a README that says what it
is; it has no programs (nothing in the tests runs Windows programs in it: Wine runs the
binaries taken out of the image). The tarball is the same for the same arguments: every entry
is dated 2024-01-01 and owned by 0:0.
"""

import argparse
import base64
import io
import tarfile

# FILE_ATTRIBUTE_DIRECTORY and FILE_ATTRIBUTE_ARCHIVE.
DIRECTORY, ARCHIVE = 0x10, 0x20
# A self-relative security descriptor: owner BUILTIN\Administrators, group SYSTEM, no DACL
# (everyone has access), as a minimal stand-in for what Windows writes.
SECURITY = bytes.fromhex(
    "01000480" "14000000" "24000000" "00000000" "00000000"
    "0102000000000005" "20000000" "20020000"   # S-1-5-32-544
    "0101000000000005" "12000000"              # S-1-5-18
)
MTIME = 1704067200

DIRS = [
    "Files", "Files/Windows", "Files/Windows/System32", "Files/Windows/System32/config",
    "Files/Windows/Temp", "Files/Program Files", "Files/ProgramData", "Files/Users",
    "Files/Users/ContainerUser", "Files/Users/ContainerAdministrator", "Files/Users/Public",
    "Hives",
]
HIVES = ["DefaultUser_Delta", "Sam_Delta", "Security_Delta", "Software_Delta", "System_Delta"]


class WindowsTarInfo(tarfile.TarInfo):
    """A tar entry named as given (tarfile would end a directory's name with a slash)."""

    def get_info(self):
        info = super().get_info()
        info["name"] = self.name
        return info


def entry(tar, name, attrs, data=None):
    info = WindowsTarInfo(name)
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.pax_headers = {
        "MSWINDOWS.fileattr": str(attrs),
        "MSWINDOWS.rawsd": base64.b64encode(SECURITY).decode(),
        "LIBARCHIVE.creationtime": str(MTIME),
    }
    if data is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
    else:
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--edition", required=True)
    ap.add_argument("--os-version", required=True)
    args = ap.parse_args()
    readme = (
        f"A stand-in for Microsoft's Windows {args.edition} {args.os_version} base image, made by goapp's\r\n"
        "test environment: the directories of a Windows container and this file, in the Windows\r\n"
        "layer format. It has no programs.\r\n"
    ).encode()
    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in DIRS:
            entry(tar, d, DIRECTORY)
        for h in HIVES:
            # A registry hive file starts with `regf`; an empty delta hive is enough here.
            entry(tar, f"Hives/{h}", ARCHIVE, b"regf" + bytes(4092))
        entry(tar, "Files/README.txt", ARCHIVE, readme)


if __name__ == "__main__":
    main()
