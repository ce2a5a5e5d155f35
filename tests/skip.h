// Skipping a test case whose inputs are absent (the shared datasets): ctest reports it as skipped, not passed, by
// matching the marker (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt). doctest prints MESSAGE output whether the
// case passes or not.
#pragma once
#include <doctest/doctest.h>

#define TG_SKIP_TEST(reason)                          \
  do {                                                \
    MESSAGE("TAPEGRAD-TEST-SKIPPED: " << reason);     \
    return;                                           \
  } while (0)
