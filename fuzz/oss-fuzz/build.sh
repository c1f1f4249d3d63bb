#!/bin/bash -eu
# OSS-Fuzz's build.sh for projects/iommucheck/ (copy this directory there): the build is the
# repository's own, shared with ClusterFuzzLite (docs/FUZZING.md, "Continuous fuzzing").
exec "$SRC/iommucheck/scripts/oss-fuzz-build.sh"
