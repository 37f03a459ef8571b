// LineSource: plain and gzip input told apart by their first bytes, concatenated gzip members,
// corrupt and truncated gzip reported, and short reads from a pipe handed out as they come.

#include "match/line_source.h"

#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/strings.h"
#include "gtest/gtest.h"

namespace liaison::match {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(testing::TempDir()) / StrCat(getpid(), "-", name)).string();
}

void GzAppend(const std::string& path, const std::string& text, const char* mode) {
  gzFile gz = gzopen(path.c_str(), mode);
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())),
            static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

// Every line of `path` through blocks of a small buffer; status of the source at the end.
std::string ReadAll(const std::string& path, Status* status, size_t buffer = 4096) {
  auto source = LineSource::Open(path, buffer);
  EXPECT_TRUE(source.ok());
  std::string out;
  std::string_view block;
  size_t capacity = 0;
  while ((*source)->NextBlock(block, capacity)) out.append(block);
  *status = (*source)->status();
  return out;
}

std::string Lines(int n, const std::string& tag) {
  std::string s;
  for (int i = 0; i < n; ++i) StrAppend(&s, tag, " line ", i, " ", std::string(i % 50, 'x'), "\n");
  return s;
}

TEST(LineSource, PlainAndConcatenatedGzipMembers) {
  const std::string plain = TempPath("plain.log");
  const std::string text = Lines(5000, "a");
  std::ofstream(plain) << text;
  Status st;
  EXPECT_EQ(ReadAll(plain, &st), text);
  EXPECT_TRUE(st.ok());

  const std::string gz = TempPath("two.log.gz");
  GzAppend(gz, Lines(3000, "first"), "wb");
  GzAppend(gz, Lines(4000, "second"), "ab");  // a second member, as `cat a.gz b.gz` gives
  EXPECT_EQ(ReadAll(gz, &st), Lines(3000, "first") + Lines(4000, "second"));
  EXPECT_TRUE(st.ok()) << st;
  std::filesystem::remove(plain);
  std::filesystem::remove(gz);
}

TEST(LineSource, CorruptAndTruncatedGzipAreDataLoss) {
  const std::string gz = TempPath("bad.log.gz");
  GzAppend(gz, Lines(20000, "z"), "wb");
  std::string bytes;
  {
    std::ifstream in(gz, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 1000u);
  std::string corrupt = bytes;
  for (size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 16; ++i) corrupt[i] ^= 0x5a;
  std::ofstream(gz, std::ios::binary) << corrupt;
  Status st;
  ReadAll(gz, &st);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;

  std::ofstream(gz, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  const std::string got = ReadAll(gz, &st);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_EQ(got, Lines(20000, "z").substr(0, got.size()));  // what came before is right
  std::filesystem::remove(gz);
}

// A live stream: lines written to a pipe come out before the writer has written more or closed
// it (a read of the whole 4 MiB buffer would wait for 4 MiB or the end).
TEST(LineSource, PipeLinesComeOutAsTheyArrive) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<bool> seen{false};
  std::atomic<bool> closed{false};
  std::thread writer([&] {
    const std::string first = "{\"event_type\":\"flow\"}\nsecond line\n";
    ASSERT_EQ(write(fds[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!seen && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::string rest = "third line\n";
    ASSERT_EQ(write(fds[1], rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
    closed = true;
    close(fds[1]);
  });
  auto source = LineSource::Open(StrCat("/dev/fd/", fds[0]));
  ASSERT_TRUE(source.ok());
  EXPECT_EQ((*source)->Peek().substr(0, 22), "{\"event_type\":\"flow\"}\n");
  std::string_view block;
  size_t capacity = 0;
  ASSERT_TRUE((*source)->NextBlock(block, capacity));
  EXPECT_FALSE(closed.load());
  EXPECT_EQ(block, "{\"event_type\":\"flow\"}\nsecond line\n");
  seen = true;
  ASSERT_TRUE((*source)->NextBlock(block, capacity));
  EXPECT_EQ(block, "third line\n");
  EXPECT_FALSE((*source)->NextBlock(block, capacity));
  EXPECT_TRUE((*source)->status().ok());
  writer.join();
  close(fds[0]);
}

// KeepBlocks(n): every block, and the `capacity` bytes after its start, stay as they were handed
// out while n - 1 more blocks come (plain and gzip input, lines longer than a read, an
// over-long line skipped); the lines are those of one buffer.
TEST(LineSource, KeptBlocksStayUnchangedWhileTheRingGoesOn) {
  std::string text;
  for (int i = 0; i < 4000; ++i) {
    StrAppend(&text, "line ", i, " ", std::string((i * 37) % 3000, 'a' + i % 26), "\n");
  }
  text += std::string(9000, 'L') + "\n";  // longer than the buffer: skipped, as with one buffer
  text += "last line without a line feed";
  const std::string plain = TempPath("ring.log");
  std::ofstream(plain) << text;
  const std::string gz = TempPath("ring.log.gz");
  GzAppend(gz, text, "wb");
  for (const std::string& path : {plain, gz}) {
    SCOPED_TRACE(path);
    Status st;
    const std::string expected = ReadAll(path, &st, 8192);
    ASSERT_TRUE(st.ok());
    auto source = LineSource::Open(path, 8192);
    ASSERT_TRUE(source.ok());
    constexpr size_t kRing = 3;
    (*source)->KeepBlocks(kRing);
    struct Kept {
      std::string_view block;
      std::string copy;  // block.data() .. + capacity as handed out
    };
    std::vector<Kept> kept;
    std::string out;
    std::string_view block;
    size_t capacity = 0;
    size_t blocks = 0;
    while ((*source)->NextBlock(block, capacity)) {
      ASSERT_GE(capacity, block.size() + 64);
      out.append(block);
      kept.push_back({block, std::string(block.data(), capacity)});
      if (kept.size() > kRing) kept.erase(kept.begin());
      for (const Kept& k : kept) {
        ASSERT_EQ(std::string_view(k.block.data(), k.copy.size()), k.copy) << "block " << blocks;
      }
      ++blocks;
    }
    EXPECT_TRUE((*source)->status().ok());
    EXPECT_EQ(out, expected);
    EXPECT_EQ((*source)->lines_too_long(), 1u);
    EXPECT_GT(blocks, 100u);
  }
  std::filesystem::remove(plain);
  std::filesystem::remove(gz);
}

}  // namespace
}  // namespace liaison::match
