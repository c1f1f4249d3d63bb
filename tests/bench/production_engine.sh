#!/bin/sh
# The production engine carries no seeded bug: in a program built like the shipped command,
# the engine over host memory exists only as PtEngine<HostMemory, NoBug>, whose bug checks are
# a constant false, so its leaf loops hold no mutant test (docs/IMPL.md).
set -eu
bin=$1
syms=$(nm -C "$bin")
for fn in fill_run clear_run; do
  echo "$syms" | grep -q "PtEngine<iommu::impl::HostMemory, iommu::impl::NoBug>::$fn<" ||
    { echo "production_engine: no PtEngine<HostMemory, NoBug>::$fn in $bin"; exit 1; }
done
if echo "$syms" | grep -q "PtEngine<iommu::impl::HostMemory, iommu::impl::SeededBug>"; then
  echo "production_engine: $bin instantiates the host-memory engine with a seeded bug"
  exit 1
fi
echo "production_engine: $bin: host-memory engine without seeded bugs"
