// doctest's runner for the test executables without a main of their own (tests/common).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
