#!/usr/bin/env bash
# `make sam-local-check`: `sam build`, `sam local invoke` for every sample event and `sam local start-api` with its
# HTTP matrix, in Docker, against the local Okta-compatible server and moto (python -m sam_local does the checks).
#
# Docker: uses a running engine; else, as root on Debian, installs docker.io and runs dockerd itself (no iptables
# changes), and stops it at the end. The Lambda base image is pulled, or where no registry is reachable a Debian
# stand-in is built (tools/sam_local/build_standin_image.sh; it is NOT Amazon Linux) and kept for the next run.
# Everything this script starts or writes (processes, containers, derived images, build dir) goes at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=$REPO/.venv/bin/python
SAM=$REPO/.venv/bin/sam
IMAGE=public.ecr.aws/lambda/python:3.13-x86_64
export SAM_CLI_TELEMETRY=0 PATH=$REPO/.venv/bin:$PATH

log() { printf '[sam-local-check] %s\n' "$*" >&2; }

WORK=$(mktemp -d /tmp/sam-local-check.XXXXXX)
DOCKERD_PID=""
IMAGES_BEFORE=""

cleanup() {
    local status=$?
    set +e
    if docker info >/dev/null 2>&1; then
        # SAM removes its containers when stopped; sweep any left on our build dir (a killed run).
        for c in $(docker ps -aq --filter label=sam.cli.container.type=lambda); do
            docker inspect -f '{{range .Mounts}}{{.Source}} {{end}}' "$c" | grep -q "$WORK" && docker rm -f "$c" >/dev/null
        done
        # Images SAM derived during this run (base image plus its emulator and our layer); the base image stays.
        for i in $(docker images -q --filter reference='samcli/lambda-python*' | sort -u); do
            grep -qx "$i" <<<"$IMAGES_BEFORE" || docker rmi -f "$i" >/dev/null
        done
    fi
    if [ -n "$DOCKERD_PID" ]; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
        log "stopped dockerd ($DOCKERD_PID)"
    fi
    if [ "$status" -ne 0 ] && [ -d "$WORK/logs" ]; then
        for f in "$WORK"/logs/*.log "$WORK"/devstack/*.log; do
            [ -s "$f" ] && { echo "--- last lines of $(basename "$f")"; tail -n 25 "$f"; }
        done >&2
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

apt_install() {
    command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || { log "$* missing; install it (needs root on Debian)"; exit 1; }
    log "installing $* (apt)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$WORK/apt.log" 2>&1 \
        || { tail -n 20 "$WORK/apt.log" >&2; log "apt-get install $* failed"; exit 1; }
}

ensure_docker() {
    if docker info >/dev/null 2>&1; then
        log "using the running Docker engine"
        return
    fi
    command -v dockerd >/dev/null || apt_install docker.io
    # No iptables or masquerading changes: SAM reaches its containers on published 127.0.0.1 ports.
    dockerd --iptables=false --ip-masq=false >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || { tail -n 20 "$WORK/dockerd.log" >&2; log "dockerd did not start"; exit 1; }
    log "started dockerd ($DOCKERD_PID)"
}

# The host's address on Docker's default bridge: containers reach the local servers there.
bridge_address() {
    local gateway
    gateway=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)
    echo "${gateway:-172.17.0.1}"
}

start=$SECONDS
ensure_docker
bash tools/sam_local/build_standin_image.sh "$IMAGE"
IMAGES_BEFORE=$(docker images -q --filter reference='samcli/lambda-python*' | sort -u)
log "docker and image ready in $((SECONDS - start))s"

"$SAM" build --build-dir "$WORK/build" --cache-dir "$WORK/cache" >"$WORK/build.log" 2>&1 \
    || { tail -n 30 "$WORK/build.log" >&2; log "sam build failed"; exit 1; }
log "sam build done ($((SECONDS - start))s)"

"$PY" -m sam_local --host "$(bridge_address)" --template "$WORK/build/template.yaml" --work-dir "$WORK"
log "done in $((SECONDS - start))s"
