#!/usr/bin/env bash
# Builds Eddy and runs every test through ctest (GUI tests offscreen). Non-zero exit on failure.
# Idempotent: installs only missing packages, rebuilds incrementally (ccache when present).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/deps.sh"
eddy_install_deps
eddy_build "$root"
export QT_QPA_PLATFORM=offscreen
cd "$EDDY_BUILD_DIR"
ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
