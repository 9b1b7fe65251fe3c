#!/usr/bin/env bash
# Makes the Lambda Python base image that `sam local` expects (public.ecr.aws/lambda/python:3.13-x86_64) available.
#
# Where the registry is reachable the real image is pulled. Where it is not, this builds a STAND-IN and tags it
# with the same name. The stand-in is NOT Amazon Linux: it is a Debian minbase root filesystem (debootstrap,
# the host's own Debian release), the host's python3.13 copied to /var/lang, AWS's Runtime Interface Client
# (awslambdaric, from PyPI), boto3 (the Lambda runtime ships it), and a /var/runtime/bootstrap. SAM CLI adds its
# own runtime interface emulator on top. Good enough to run our handlers; not a byte-for-byte Lambda runtime.
#
# Usage: build_standin_image.sh IMAGE   (needs root, docker, debootstrap; python3.13 from PATH or pyenv)
# A stand-in whose inputs have not changed is reused (docker label okta-m2m.standin holds their hash).
set -euo pipefail

IMAGE=${1:?usage: build_standin_image.sh IMAGE}
AWSLAMBDARIC_VERSION=4.2.2
# The Debian mirror apt already uses here (DEBIAN_MIRROR overrides), else Debian's CDN.
host_mirror() {
    # Either file may be missing: a missing one is no error here.
    awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true
}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror | head -n 1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# Shared libraries the CPython build links against (the rest of its extension modules are not needed).
DEB_PACKAGES=ca-certificates,libssl3,libffi8,libsqlite3-0,libexpat1,libbz2-1.0,liblzma5,zlib1g,libuuid1
LABEL=okta-m2m.standin

log() { printf '[standin] %s\n' "$*" >&2; }

python_prefix() {
    local py prefix
    py=$(command -v python3.13 || PYENV_VERSION=3.13.0 pyenv which python3.13 2>/dev/null \
        || ls /root/.pyenv/versions/3.13.*/bin/python3.13 2>/dev/null | tail -n 1) || true
    [ -n "$py" ] || { log "python3.13 not found (needed for the stand-in image)"; exit 1; }
    prefix=$("$py" -c 'import sys; print(sys.base_prefix)')
    # Only a self-contained build (pyenv, python.org) is copied; a distribution's /usr would bring half the host.
    case "$prefix" in
        / | /usr | /usr/local) log "python3.13 at $prefix is not self-contained: install one with pyenv"; exit 1 ;;
    esac
    echo "$prefix"
}

if docker image inspect "$IMAGE" >/dev/null 2>&1 && [ -z "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$IMAGE")" ]; then
    log "using $IMAGE as found (not a stand-in)"
    exit 0
fi

# Debian release of the host: the copied CPython was built against its libraries.
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$SUITE" ] || { log "cannot tell the host's Debian release from /etc/os-release"; exit 1; }
PREFIX=$(python_prefix)
PYVER=$("$PREFIX/bin/python3.13" -c 'import sys; print(sys.version.split()[0])')
# Pin boto3 to what the dev venv has, so local runs and tests see one version.
BOTO3_VERSION=$("$(dirname "$0")/../../.venv/bin/python" -c 'import boto3; print(boto3.__version__)')
KEY=$( { cat "$0"; echo "$SUITE $PYVER $PREFIX $AWSLAMBDARIC_VERSION $BOTO3_VERSION $DEB_PACKAGES"; } | sha256sum | cut -c1-16)

if [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null)" = "$KEY" ]; then
    log "stand-in $IMAGE is current ($KEY)"
    exit 0
fi

if docker pull "$IMAGE" >/dev/null 2>&1; then
    log "pulled $IMAGE"
    exit 0
fi
log "cannot pull $IMAGE; building a Debian $SUITE stand-in (NOT Amazon Linux) with Python $PYVER"

WORK=$(mktemp -d /var/tmp/okta-m2m-standin.XXXXXX)
remove_work() {
    # A failed debootstrap can leave /proc, /sys or a bind-mounted /dev inside the rootfs: unmount, never descend.
    awk -v w="$WORK/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf --one-file-system "$WORK"
}
trap remove_work EXIT
if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
    log "installing debootstrap (apt)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >"$WORK/apt.log" 2>&1 \
        || { tail -n 20 "$WORK/apt.log" >&2; exit 1; }
fi
ROOT=$WORK/rootfs

start=$SECONDS
debootstrap --variant=minbase --include="$DEB_PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; exit 1; }
log "debootstrap done in $((SECONDS - start))s"

# CPython at /var/lang, as in the real image; without its tests, IDLE, tkinter and the host's site-packages.
mkdir -p "$ROOT/var/lang" "$ROOT/var/runtime" "$ROOT/var/task" "$ROOT/opt"
tar -C "$PREFIX" --exclude='lib/python3.13/test' --exclude='lib/python3.13/idlelib' \
    --exclude='lib/python3.13/tkinter' --exclude='lib/python3.13/turtledemo' \
    --exclude='lib/python3.13/site-packages/*' -cf - . | tar -C "$ROOT/var/lang" -xf -
ln -sf python3.13 "$ROOT/var/lang/bin/python"

# The runtime client and boto3 go where the real image keeps its runtime: /var/runtime.
"$PREFIX/bin/python3.13" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-compile \
    --target "$ROOT/var/runtime" "awslambdaric==$AWSLAMBDARIC_VERSION" "boto3==$BOTO3_VERSION" >"$WORK/pip.log" 2>&1 \
    || { tail -n 20 "$WORK/pip.log" >&2; exit 1; }

cat >"$ROOT/var/runtime/bootstrap" <<'EOF'
#!/bin/sh
# Stand-in bootstrap (Debian, not Amazon Linux): Lambda's Python search path order, then the runtime client.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-/var/task}:/opt/python/lib/python3.13/site-packages:/opt/python:/var/runtime"
export AWS_EXECUTION_ENV=AWS_Lambda_python3.13
exec /var/lang/bin/python3.13 -m awslambdaric "$_HANDLER"
EOF
chmod 755 "$ROOT/var/runtime/bootstrap"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

OLD_ID=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
# The real image's environment, minus what only Amazon Linux has.
tar -C "$ROOT" -cf - . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
    --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/var/runtime:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' \
    --change "LABEL $LABEL=$KEY" \
    --change "LABEL org.opencontainers.image.description=\"Stand-in: Debian $SUITE, NOT Amazon Linux\"" \
    --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
    - "$IMAGE" >/dev/null
# The stand-in this one replaces would linger untagged: drop it (SAM's derived images of it go at check exit).
[ -z "$OLD_ID" ] || docker rmi "$OLD_ID" >/dev/null 2>&1 || true
log "built stand-in $IMAGE ($KEY) in $((SECONDS - start))s"
