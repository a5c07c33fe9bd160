#!/usr/bin/env bash
# Re-vendors the front-end assets from the npm registry into static/vendor/.
# The app never loads anything from a CDN; run this only to upgrade a pinned version.
set -euo pipefail
BOOTSTRAP=5.3.9
HTMX=2.0.11
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "bootstrap@$BOOTSTRAP" "htmx.org@$HTMX" >/dev/null
tar xzf "bootstrap-$BOOTSTRAP.tgz" && mv package bootstrap
tar xzf "htmx.org-$HTMX.tgz" && mv package htmx
dest="$here/static/vendor"
mkdir -p "$dest/bootstrap" "$dest/htmx"
cp bootstrap/dist/css/bootstrap.min.css bootstrap/dist/css/bootstrap.min.css.map "$dest/bootstrap/"
cp bootstrap/dist/js/bootstrap.bundle.min.js bootstrap/dist/js/bootstrap.bundle.min.js.map "$dest/bootstrap/"
cp bootstrap/LICENSE "$dest/bootstrap/LICENSE"
cp htmx/dist/htmx.min.js "$dest/htmx/"
cp htmx/LICENSE "$dest/htmx/LICENSE"
printf 'bootstrap %s\nhtmx.org %s\n' "$BOOTSTRAP" "$HTMX" > "$dest/VERSIONS"
