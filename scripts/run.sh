#!/usr/bin/env bash
# Builds Eddy and starts the studio with its embedded broker and the seed scenario
# (simulations/scenarios/seed-user-created.json) open on the canvas. Data lives in the XDG data
# dir ($XDG_DATA_HOME/eddy, default ~/.local/share/eddy). Extra arguments go to eddy-studio
# (e.g. --run to start the scenario at once, --theme dark, --connect URL).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/deps.sh"
eddy_install_deps
eddy_build "$root"
data="${XDG_DATA_HOME:-$HOME/.local/share}/eddy"
mkdir -p "$data"
exec "$EDDY_BUILD_DIR/app/eddy-studio" --data "$data" \
    --scenario "$root/simulations/scenarios/seed-user-created.json" "$@"
