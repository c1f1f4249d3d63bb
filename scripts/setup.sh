#!/usr/bin/env bash
# Installs the dependencies, builds the default preset and runs the default check.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset default
cmake --build --preset default
./build/default/cli/iommucheck selfcheck
