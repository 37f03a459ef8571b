#include "core/private_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "gtest/gtest.h"

namespace liaison {
namespace {

std::filesystem::path TempPath() {
  return std::filesystem::temp_directory_path() /
         ("liaison_private_file_" + std::to_string(::getpid()));
}

std::filesystem::path TempDir() {
  std::filesystem::path dir = TempPath();
  std::filesystem::create_directories(dir);
  return dir;
}

// The directory goes when the test binary exits (it was left behind by every run).
struct RemoveTempDirAtExit {
  ~RemoveTempDirAtExit() {
    std::error_code ec;
    std::filesystem::remove_all(TempPath(), ec);
  }
} remove_temp_dir_at_exit;

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PrivateFileWriter, AppearsOnlyWhenCommittedAndOnlyForTheOwner) {
  const std::filesystem::path path = TempDir() / "release.ndjson";
  std::filesystem::remove(path);
  {
    auto out = PrivateFileWriter::Open(path.string());
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_TRUE((*out)->Write("{\"a\":1}\n").ok());
    EXPECT_FALSE(std::filesystem::exists(path)) << "visible before Commit";
    ASSERT_TRUE((*out)->Commit().ok());
    EXPECT_FALSE((*out)->Write("more").ok()) << "writable after Commit";
  }
  EXPECT_EQ(Slurp(path), "{\"a\":1}\n");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".partial"));
}

TEST(PrivateFileWriter, AnUncommittedWriteLeavesTheOldFileAndNoTemporary) {
  const std::filesystem::path path = TempDir() / "old.txt";
  ASSERT_TRUE(WritePrivateFile(path.string(), "old").ok());
  {
    auto out = PrivateFileWriter::Open(path.string());
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE((*out)->Write("half").ok());
  }  // an error path drops the writer without Commit
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".partial"));
}

TEST(PrivateFileWriter, AnUnwritableDirectoryIsAnError) {
  auto out = PrivateFileWriter::Open("/nonexistent-dir/x/out.txt");
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("cannot create"), std::string::npos);
}

}  // namespace
}  // namespace liaison
