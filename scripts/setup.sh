#!/usr/bin/env bash
# Installs the dependencies, builds the default preset, and runs the default conformance
# check: a campaign of our own page-table engine against the reference and hardware models.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset default
cmake --build --preset default
./build/default/cli/iommucheck check --driver impl:arm-64-lpae-s1-4k --ops 100000
