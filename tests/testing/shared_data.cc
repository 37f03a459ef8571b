#include "testing/shared_data.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace liaison::testing {

std::optional<std::filesystem::path> SharedDir() {
  const char* env = std::getenv("LIAISON_SHARED_DIR");
  std::filesystem::path dir = env ? env : "../shared";
  if (std::filesystem::is_directory(dir / "data")) return dir;
  return std::nullopt;
}

std::filesystem::path SourceDir() {
  const char* env = std::getenv("LIAISON_SOURCE_DIR");
  return env ? env : ".";
}

std::string ReadFileOrDie(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::filesystem::path> FilesUnder(const std::filesystem::path& dir,
                                              const std::vector<std::string>& suffixes) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    for (const std::string& s : suffixes) {
      if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
        out.push_back(entry.path());
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace liaison::testing
