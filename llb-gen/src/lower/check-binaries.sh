# Checks the binaries of a cgo build, after `go build`, on the build platform.
#
#   sh -c "$(cat check-binaries.sh)" check MACHINE STATIC TRIPLET NAME...
#
# /out holds the binaries NAME...; /sysroot is the root they were compiled in; /base, when
# mounted, is the runtime base. Each binary must be for MACHINE (as `readelf -h` names it).
# With STATIC=1 it must have no dynamic dependencies. Otherwise the base must have glibc
# with every symbol version the binary asks for, and each shared library the binary needs
# (directly or through another) that the base lacks is copied from /sysroot into
# /libs/usr/lib/TRIPLET, for the image. A Windows program (TRIPLET *-mingw32, MACHINE the
# file format `objdump -f` names) is linked statically: it must import no DLL of MinGW-w64's
# runtime (libwinpthread-1.dll, libgcc_s_seh-1.dll, libstdc++-6.dll), which Windows lacks.
set -eu
machine=$1 static=$2 triplet=$3
shift 3
mkdir -p /libs
fail=0
say() { printf 'goapp: %s\n' "$*" >&2; }

# lookup ROOT SONAME: the path of a shared library under ROOT, where the dynamic loader
# (or, for the cross C library, the cross compiler) finds it.
lookup() {
  for d in "lib/$triplet" "usr/lib/$triplet" lib64 usr/lib64 lib usr/lib "usr/$triplet/lib"; do
    if [ -e "$1/$d/$2" ]; then
      echo "$1/$d/$2"
      return 0
    fi
  done
  return 1
}
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
glibc_versions() { readelf -V "$1" 2>/dev/null | sed -n 's/.*Name: \(GLIBC_[0-9][0-9.]*\).*/\1/p' | sort -u; }

# walk NAME FILE: checks FILE's symbol versions against the base's glibc and copies the
# libraries it needs that the base lacks; then does the same for those libraries.
walk() {
  local name=$1 file=$2 v so src
  for v in $(glibc_versions "$file"); do
    case " $have " in
    *" $v "*) ;;
    *)
      say "$name: $(basename "$file") needs $v, which the base's glibc (up to $newest) lacks;" \
        "build with a builder of the base's Debian release or an older one (go.image), or use a newer base"
      fail=1
      ;;
    esac
  done
  for so in $(needed "$file"); do
    case " $seen " in *" $so "*) continue ;; esac
    seen="$seen $so"
    if lookup /base "$so" >/dev/null; then continue; fi
    if ! src=$(lookup /sysroot "$so"); then
      say "$name needs $so, which neither the base nor the builder has; add the Debian package that provides it to go.c_packages"
      fail=1
      continue
    fi
    mkdir -p "/libs/usr/lib/$triplet"
    cp -L "$src" "/libs/usr/lib/$triplet/$so"
    echo "$name: adds /usr/lib/$triplet/$so (from ${src#/sysroot})"
    walk "$name" "/libs/usr/lib/$triplet/$so"
  done
}

for name in "$@"; do
  bin=/out/$name
  case $triplet in
  *-mingw32)
    got=$("$triplet-objdump" -f "$bin" | sed -n 's/.*file format //p')
    if [ "$got" != "$machine" ]; then
      say "$name is a $got file, not a $machine program: the C compiler does not build for the target (check CC in go.env)"
      fail=1
      continue
    fi
    dlls=$("$triplet-objdump" -p "$bin" | sed -n 's/^[[:space:]]*DLL Name: //p' | sort -u | tr '\n' ' ')
    mingw=$(printf '%s\n' $dlls | grep -i '^lib' | tr '\n' ' ' || true)
    if [ -n "$mingw" ]; then
      say "$name needs MinGW-w64's ${mingw% }, which Windows lacks; remove -linkmode or -extldflags from the ldflags"
      fail=1
    else
      echo "$name: $machine, statically linked; imports $dlls"
    fi
    continue
    ;;
  esac
  got=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
  if [ "$got" != "$machine" ]; then
    say "$name is a binary for $got, not for $machine: the C compiler does not build for the target (check CC in go.env)"
    fail=1
    continue
  fi
  deps=$(needed "$bin" | tr '\n' ' ')
  if [ "$static" = 1 ]; then
    if [ -n "$deps" ] || readelf -l "$bin" | grep -q INTERP; then
      say "$name is dynamically linked (it needs ${deps:-a dynamic loader}), but go.static is true; remove -linkmode or -extldflags from the ldflags"
      fail=1
    else
      echo "$name: $machine, statically linked"
    fi
    continue
  fi
  if ! libc=$(lookup /base libc.so.6); then
    say "$name links glibc dynamically, but the base has no libc.so.6; use a base with glibc (distroless/cc, distroless/base, debian) or set go.static: true"
    fail=1
    continue
  fi
  have=$(glibc_versions "$libc" | tr '\n' ' ')
  newest=$(printf '%s\n' $have | sort -V | tail -n 1)
  seen=""
  walk "$name" "$bin"
  echo "$name: $machine, dynamically linked against glibc (the base's has up to $newest); needs: $deps"
done
exit $fail
