#!/usr/bin/env bash
# Write the .env that compose reads: your UID/GID (so files on bind mounts belong to you, not
# root), LVIS_ROOT, GPU_COUNT. Values already in the file (e.g. an LVIS_ROOT you set) are kept;
# UID/GID are refreshed (IIF_UID / IIF_GID override them). Every folder compose mounts
# (LVIS_ROOT, WORK_DIRS, RESULTS_DIR, IIF_CACHE: from the environment, else .env, else the
# default, as compose resolves them) is created here, as you: compose.yaml refuses to create
# missing ones (create_host_path: false), which Docker would do as root.
# The file is rewritten atomically (a new file renamed over the old one).
set -euo pipefail
ENV_FILE=${1:-.env}
uid=${IIF_UID:-$(id -u)}
gid=${IIF_GID:-$(id -g)}
env_dir=$(cd "$(dirname "$ENV_FILE")" && pwd)  # compose resolves relative paths from here
touch "$ENV_FILE"
tmp=$(mktemp "$env_dir/.env.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat "$ENV_FILE" > "$tmp"

set_value() {  # replace KEY=... or append it (in the new file)
    local key=$1 value=$2 rest
    rest=$(grep -v "^$key=" "$tmp" || true)
    { if [ -n "$rest" ]; then printf '%s\n' "$rest"; fi; echo "$key=$value"; } > "$tmp.part"
    mv -f "$tmp.part" "$tmp"
}
keep_or_set() {  # KEY=default unless the file already sets it
    grep -q "^$1=" "$tmp" || echo "$1=$2" >> "$tmp"
}
value_of() { grep "^$1=" "$tmp" | tail -n 1 | cut -d= -f2-; }
setting() {  # KEY default: what compose will use
    local key=$1 default=$2 value
    value=${!key:-}
    [ -n "$value" ] || value=$(value_of "$key")
    [ -n "$value" ] || value=$default
    # compose strips matching quotes around .env values and expands ~ in bind sources
    value=${value#[\"\']}; value=${value%[\"\']}
    case $value in "~"|"~/"*) value=$HOME${value#\~} ;; esac
    echo "$value"
}

set_value UID "$uid"
set_value GID "$gid"
keep_or_set LVIS_ROOT ./data/lvis_v1
keep_or_set GPU_COUNT all
# IIF_IMAGE from the environment wins (CI builds under its own tag, never over iif-kit:latest)
if [ -n "${IIF_IMAGE:-}" ]; then set_value IIF_IMAGE "$IIF_IMAGE"; else keep_or_set IIF_IMAGE iif-kit:latest; fi
lvis_root=$(setting LVIS_ROOT ./data/lvis_v1)
mounts=("$lvis_root" "$(setting WORK_DIRS ./work_dirs)" "$(setting RESULTS_DIR ./results)"
        "$(setting IIF_CACHE ./.cache/iif)")
gpu_count=$(value_of GPU_COUNT)
chmod --reference="$ENV_FILE" "$tmp" 2>/dev/null || chmod 644 "$tmp"
mv -f "$tmp" "$ENV_FILE"
trap - EXIT

for dir in "${mounts[@]}"; do
    case $dir in /*) ;; *) dir=$env_dir/$dir ;; esac
    if ! mkdir -p "$dir"; then
        echo "error: cannot create $dir, which compose mounts; create it yourself or change" \
             "its setting in $ENV_FILE" >&2
        exit 1
    fi
    # as root preparing for another user (CI): hand the mount points to that user
    if [ "$(id -u)" = 0 ] && [ "$uid" != 0 ]; then chown "$uid:$gid" "$dir"; fi
done
case $lvis_root in /*) lvis_abs=$lvis_root ;; *) lvis_abs=$env_dir/$lvis_root ;; esac
if [ ! -d "$lvis_abs/annotations" ]; then
    echo "note: LVIS_ROOT=$lvis_root (in $ENV_FILE) holds no annotations/ yet; set it to the" \
         "folder holding annotations/, train2017/ and val2017/, or run \`make data\`" >&2
fi
echo "$ENV_FILE: UID=$uid GID=$gid LVIS_ROOT=$lvis_root GPU_COUNT=$gpu_count"
