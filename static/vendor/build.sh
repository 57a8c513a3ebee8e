#!/usr/bin/env bash
# Fetches and bundles the front-end libraries that FDL Studio vendors.
#
# Users and CI never run this: its output (the built files and their
# licences) is committed under static/vendor/. A maintainer runs it, with
# Node and npm, to upgrade a library:
#
#   static/vendor/build.sh
#
# Versions are pinned here; package-lock.json in the scratch directory is
# thrown away.
set -euo pipefail

HTMX_VERSION=2.0.11

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact "htmx.org@${HTMX_VERSION}" >/dev/null

mkdir -p "$here/htmx"
cp node_modules/htmx.org/dist/htmx.min.js "$here/htmx/htmx.min.js"
cp node_modules/htmx.org/LICENSE "$here/htmx/LICENSE"
echo "htmx.org@${HTMX_VERSION}" > "$here/htmx/VERSION"

echo "vendored htmx ${HTMX_VERSION} into $here/htmx"
