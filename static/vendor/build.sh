#!/usr/bin/env bash
# Fetches and bundles the front-end libraries that FDL Studio vendors.
#
# Users and CI never run this: its output (the built files and their
# licences) is committed under static/vendor/ (and, for the test-only
# axe-core, under e2e/testdata/axe/). A maintainer runs it, with Node and
# npm, to upgrade a library:
#
#   static/vendor/build.sh
#
# Versions are pinned here; package-lock.json in the scratch directory is
# thrown away.
set -euo pipefail

HTMX_VERSION=2.0.11
# The script editor: CodeMirror 6 and the language modes it loads.
CODEMIRROR_VERSION=6.0.2
CM_VIEW_VERSION=6.43.15
CM_STATE_VERSION=6.7.6
CM_LANGUAGE_VERSION=6.13.1
CM_COMMANDS_VERSION=6.11.1
CM_LANG_PYTHON_VERSION=6.2.1
CM_LEGACY_MODES_VERSION=6.5.5
CM_LINT_VERSION=6.9.8
LEZER_HIGHLIGHT_VERSION=1.2.5
ESBUILD_VERSION=0.28.2
# Test-only: the accessibility checker run by the browser tests, never served.
AXE_VERSION=4.14.1
# The composer's canvas.
DRAWFLOW_VERSION=0.0.60

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact \
  "htmx.org@${HTMX_VERSION}" \
  "codemirror@${CODEMIRROR_VERSION}" \
  "@codemirror/view@${CM_VIEW_VERSION}" \
  "@codemirror/state@${CM_STATE_VERSION}" \
  "@codemirror/language@${CM_LANGUAGE_VERSION}" \
  "@codemirror/commands@${CM_COMMANDS_VERSION}" \
  "@codemirror/lang-python@${CM_LANG_PYTHON_VERSION}" \
  "@codemirror/legacy-modes@${CM_LEGACY_MODES_VERSION}" \
  "@codemirror/lint@${CM_LINT_VERSION}" \
  "@lezer/highlight@${LEZER_HIGHLIGHT_VERSION}" \
  "esbuild@${ESBUILD_VERSION}" \
  "axe-core@${AXE_VERSION}" \
  "drawflow@${DRAWFLOW_VERSION}" >/dev/null

mkdir -p "$here/htmx"
cp node_modules/htmx.org/dist/htmx.min.js "$here/htmx/htmx.min.js"
cp node_modules/htmx.org/LICENSE "$here/htmx/LICENSE"
echo "htmx.org@${HTMX_VERSION}" > "$here/htmx/VERSION"
echo "vendored htmx ${HTMX_VERSION} into $here/htmx"

# One ES module with everything the editor needs; editor.src.js is its entry.
cm="$here/codemirror"
cp "$cm/editor.src.js" ./editor.src.js
npx --no-install esbuild editor.src.js --bundle --format=esm --minify \
  --target=es2020 --legal-comments=none --outfile="$cm/codemirror.min.js"
{
  echo "codemirror.min.js is built from these installed packages (all MIT, licence below):"
  npm ls --all --parseable --long 2>/dev/null | tr ':' ' ' | awk '{print $2}' |
    grep -E '^(@codemirror/|@lezer/|codemirror@|style-mod@|w3c-keyname@|crelt@|@marijn/)' | sort -u
  echo
  cat node_modules/@codemirror/view/LICENSE
} > "$cm/LICENSE"
echo "codemirror@${CODEMIRROR_VERSION} view@${CM_VIEW_VERSION} state@${CM_STATE_VERSION} language@${CM_LANGUAGE_VERSION} commands@${CM_COMMANDS_VERSION} lang-python@${CM_LANG_PYTHON_VERSION} legacy-modes@${CM_LEGACY_MODES_VERSION} lint@${CM_LINT_VERSION} esbuild@${ESBUILD_VERSION}" > "$cm/VERSION"
echo "bundled CodeMirror into $cm ($(gzip -9c "$cm/codemirror.min.js" | wc -c) bytes gzip)"

axe="$repo/e2e/testdata/axe"
mkdir -p "$axe"
cp node_modules/axe-core/axe.min.js "$axe/axe.min.js"
cp node_modules/axe-core/LICENSE "$axe/LICENSE"
echo "axe-core@${AXE_VERSION}" > "$axe/VERSION"
echo "vendored axe-core ${AXE_VERSION} into $axe (tests only)"

mkdir -p "$here/drawflow"
cp node_modules/drawflow/dist/drawflow.min.js node_modules/drawflow/dist/drawflow.min.css "$here/drawflow/"
cp node_modules/drawflow/LICENSE "$here/drawflow/LICENSE"
echo "drawflow@${DRAWFLOW_VERSION}" > "$here/drawflow/VERSION"
echo "vendored drawflow ${DRAWFLOW_VERSION} into $here/drawflow"
