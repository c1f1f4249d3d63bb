#!/bin/bash -eu
# ClusterFuzzLite's build.sh: the same build as OSS-Fuzz's (docs/FUZZING.md, "Continuous fuzzing").
exec "$SRC/iommucheck/scripts/oss-fuzz-build.sh"
