// Property: whatever Parse accepts, Print writes text that parses back to the same tree, and
// printing that tree again gives the same text. The static checks and compilation must not
// crash on anything that parses.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pattern/check.h"
#include "pattern/evaluate.h"
#include "pattern/parse.h"
#include "pattern/print.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace liaison::pattern;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = Parse(text);
  if (!first.ok()) return 0;
  const std::string printed = Print(*first);
  auto second = Parse(printed);
  if (!second.ok() || !(*second == *first) || Print(*second) != printed) {
    std::fprintf(stderr, "round trip failed:\n  input:   %.*s\n  printed: %s\n",
                 static_cast<int>(size), text.data(), printed.c_str());
    std::abort();
  }
  (void)Check(*first);
  (void)CompiledPattern::Compile(*first);
  return 0;
}
