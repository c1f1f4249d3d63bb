#!/usr/bin/env bash
# Installs the dependencies, builds the default preset, and runs the default conformance
# checks: a campaign of our own page-table engine against the reference and hardware models,
# then one of Linux 6.12's own io-pgtable-arm.c (Debian's linux-source-6.12, fetched into
# build/kernels/) judged against its baseline of known findings (docs/LINUX.md).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset default
cmake --build --preset default
./build/default/cli/iommucheck check --driver impl:arm-64-lpae-s1-4k --ops 100000
kernel=$(./scripts/fetch-kernel.sh 6.12)
./build/default/cli/iommucheck check --kernel "${kernel}" --driver linux:arm-64-lpae-s1-4k \
  --ops 20000 --baseline conform/linux/baselines/6.12.baseline
