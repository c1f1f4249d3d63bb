// The owner of the test binaries' shared precompiled header (tests/CMakeLists.txt): an empty
// program whose main is GoogleTest's.
