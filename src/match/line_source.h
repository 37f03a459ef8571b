#pragma once

// Streaming lines from a file, a gzip file or stdin through one fixed buffer, so that reading
// a log of any size holds at most `buffer_bytes` of it. zlib reads plain files transparently,
// so one path serves both. Lines longer than the buffer are skipped and counted.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison::match {

class LineSource {
 public:
  // Opens `path` ("-" is stdin). NotFound / PermissionDenied naming the path.
  static Result<std::unique_ptr<LineSource>> Open(const std::string& path,
                                                  size_t buffer_bytes = size_t{4} << 20);
  ~LineSource();

  // The next block of whole lines (each ending in '\n', or at the end of the input), and in
  // `capacity` how many bytes are readable from block.data() (>= block.size() + 64, for
  // simdjson). Returns false at the end or on an error (see status()). Invalidates the last
  // block.
  bool NextBlock(std::string_view& block, size_t& capacity);

  // The first bytes of the input, without consuming them (for format detection).
  std::string_view Peek();

  const Status& status() const { return status_; }
  uint64_t bytes_read() const { return bytes_read_; }  // decompressed bytes handed out
  uint64_t lines_too_long() const { return too_long_; }

 private:
  LineSource() = default;
  bool Fill();

  void* gz_ = nullptr;  // gzFile
  std::string path_;
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t begin_ = 0;  // unconsumed bytes are [begin_, end_)
  size_t end_ = 0;
  bool eof_ = false;
  bool skipping_ = false;  // inside an over-long line
  Status status_;
  uint64_t bytes_read_ = 0;
  uint64_t too_long_ = 0;
};

}  // namespace liaison::match
