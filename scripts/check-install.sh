#!/usr/bin/env bash
# Proves natsim works as an installed package, from outside its source tree:
#   scripts/check-install.sh BUILD_DIR
# installs the (already built) BUILD_DIR into a fresh temporary prefix, fails if any
# installed file names the build or source directory, then configures, builds and runs
# examples/external-project against that prefix alone; then, when the source tree is a git
# checkout, builds the same project with natsim pulled in by FetchContent from it (at
# HEAD) and fails if natsim's tests, benchmarks, fuzzers or CLI were built. docs/library.md.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1/CMakeCache.txt" ]; then
  echo "usage: $0 BUILD_DIR   (a configured and built natsim build directory)" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd -P)
build=$(cd "$1" && pwd -P)
work=$(mktemp -d "${TMPDIR:-/tmp}/natsim-check-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
start=$(date +%s)

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
echo "check-install: installed $(find "$prefix" -type f | wc -l) files into a fresh prefix"

for f in "$prefix/lib/cmake/natsim/natsimConfig.cmake" "$prefix/lib/cmake/natsim/natsimConfigVersion.cmake" \
         "$prefix/lib/cmake/natsim/natsimTargets.cmake" "$prefix/lib/cmake/natsim/natsimTestingTargets.cmake" \
         "$prefix/include/natsim/sim/stack.hpp" "$prefix/include/natsim/testing/world_test.hpp" \
         "$prefix/bin/natsim"; do
  [ -e "$f" ] || { echo "check-install: missing $f" >&2; exit 1; }
done

# No installed file may point back into the trees it came from (-a: the libraries and
# the CLI too, for paths baked into them).
leaks=$(grep -rlaF -e "$build" -e "$src" "$prefix" || true)
if [ -n "$leaks" ]; then
  echo "check-install: installed files name the build or source directory:" >&2
  echo "$leaks" >&2
  grep -q '^NATSIM_RELOCATABLE_PATHS:BOOL=ON' "$build/CMakeCache.txt" ||
    echo "check-install: $build was not configured with -DNATSIM_RELOCATABLE_PATHS=ON (the release preset sets it)" >&2
  exit 1
fi

# The external project sees only the prefix (and the system's packages), not this tree.
cmake -S "$src/examples/external-project" -B "$work/external" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/configure.log" ||
  { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$work/external" -j "$(nproc 2>/dev/null || echo 2)" >"$work/build.log" ||
  { cat "$work/build.log" >&2; exit 1; }
ctest --test-dir "$work/external" --output-on-failure
echo "check-install: the external project passes against the installed package"

# FetchContent: natsim as a subproject builds its libraries and natsim::testing only.
if head=$(git -C "$src" rev-parse HEAD 2>/dev/null); then
  cmake -S "$src/examples/external-project" -B "$work/fetch" -DCMAKE_BUILD_TYPE=Release \
        -DNATSIM_GIT_REPOSITORY="$src" -DNATSIM_GIT_TAG="$head" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/fetch-configure.log" 2>&1 ||
    { cat "$work/fetch-configure.log" >&2; exit 1; }
  cmake --build "$work/fetch" -j "$(nproc 2>/dev/null || echo 2)" >"$work/fetch-build.log" 2>&1 ||
    { tail -50 "$work/fetch-build.log" >&2; exit 1; }
  ctest --test-dir "$work/fetch" --output-on-failure
  extra=$(find "$work/fetch/_deps/natsim-build" -type f -executable \
            \( -name '*_tests' -o -name 'bench_*' -o -name 'fuzz_*' -o -name natsim \) | sed "s|$work/||")
  if [ -n "$extra" ]; then
    echo "check-install: natsim as a FetchContent subproject built more than its libraries:" >&2
    echo "$extra" >&2
    exit 1
  fi
  echo "check-install: the external project passes with natsim from FetchContent ($head), libraries only"
else
  echo "check-install: $src is not a git checkout; the FetchContent build is skipped"
fi
echo "check-install: ok in $(( $(date +%s) - start )) s"
