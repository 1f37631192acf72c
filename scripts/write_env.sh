#!/usr/bin/env bash
# Write the .env that compose reads: your UID/GID (so files on bind mounts belong to you, not
# root), LVIS_ROOT, GPU_COUNT. Values already in the file (e.g. an LVIS_ROOT you set) are kept;
# UID/GID are refreshed (IIF_UID / IIF_GID override them). The mounted folders are created
# here, as you, because Docker would create missing ones as root.
set -euo pipefail
ENV_FILE=${1:-.env}
uid=${IIF_UID:-$(id -u)}
gid=${IIF_GID:-$(id -g)}
touch "$ENV_FILE"

set_value() {  # replace KEY=... or append it
    local key=$1 value=$2 tmp
    tmp=$(mktemp)
    grep -v "^$key=" "$ENV_FILE" > "$tmp" || true
    echo "$key=$value" >> "$tmp"
    cat "$tmp" > "$ENV_FILE"
    rm -f "$tmp"
}
keep_or_set() {  # KEY=default unless the file already sets it
    grep -q "^$1=" "$ENV_FILE" || echo "$1=$2" >> "$ENV_FILE"
}
value_of() { grep "^$1=" "$ENV_FILE" | tail -n 1 | cut -d= -f2-; }

set_value UID "$uid"
set_value GID "$gid"
keep_or_set LVIS_ROOT ./data/lvis_v1
keep_or_set GPU_COUNT all
keep_or_set IIF_IMAGE iif-kit:latest

lvis_root=$(value_of LVIS_ROOT)
for dir in "${WORK_DIRS:-./work_dirs}" "${RESULTS_DIR:-./results}" "${IIF_CACHE:-./.cache/iif}" ./data/lvis_v1; do
    mkdir -p "$dir"
    # as root preparing for another user (CI): hand the mount points to that user
    if [ "$(id -u)" = 0 ] && [ "$uid" != 0 ]; then chown "$uid:$gid" "$dir"; fi
done
if [ ! -d "$lvis_root" ]; then
    echo "warning: LVIS_ROOT=$lvis_root (in $ENV_FILE) does not exist; set it to the folder" \
         "holding annotations/, train2017/ and val2017/, or run \`make data\`" >&2
fi
echo "$ENV_FILE: UID=$uid GID=$gid LVIS_ROOT=$lvis_root GPU_COUNT=$(value_of GPU_COUNT)"
