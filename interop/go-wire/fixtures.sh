#!/usr/bin/env bash
# Print the memberlist wire fixtures as memberlist 0.2.2 encodes them ("name hex" lines):
# compiles swim_fixtures_test.go inside a copy of memberlist's sources (its own tests left out,
# so none of their dependencies are needed) in a throwaway GOPATH placed before Debian's.
#   interop/go-wire/fixtures.sh > swim-core/tests/golden/memberlist.txt
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
gopath="${SWIM_GOPATH:-/usr/share/gocode}"
src="$gopath/src/github.com/hashicorp/memberlist"
[ -f "$src/memberlist.go" ] || { echo "memberlist's source is not at $src" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pkg="$work/src/github.com/hashicorp/memberlist"
mkdir -p "$pkg"
for f in "$src"/*.go; do
  case "$f" in *_test.go) ;; *) cp "$f" "$pkg/" ;; esac
done
# memberlist vendors some of its dependencies (sean-/seed, for one).
[ ! -d "$src/vendor" ] || cp -r "$src/vendor" "$pkg/"
cp "$here/swim_fixtures_test.go" "$pkg/"
cd "$pkg"
export GOPATH="$work:$gopath" GO111MODULE=off GOFLAGS=
[ -n "${GOCACHE:-}" ] || [ -n "${HOME:-}" ] || export GOCACHE="$work/cache"
go test -count=1 -run '^TestSwimFixtures$' -v . | grep -E '^[a-z0-9-]+ [0-9a-f]+$'
