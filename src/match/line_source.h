#pragma once

#include <sys/types.h>

// Streaming lines from a file, a gzip file or stdin through one fixed buffer, so that reading
// a log of any size holds at most `buffer_bytes` of it (plus 256 KiB of raw input). The first
// two bytes tell gzip (inflated, concatenated members too) from plain text. Each read takes
// what the input has, so a block from a pipe holds the whole lines that have arrived, not
// 4 MiB: a live stream is matched as it comes. Lines longer than the buffer are skipped and
// counted.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  // block (but see KeepBlocks).
  bool NextBlock(std::string_view& block, size_t& capacity);

  // Keeps blocks valid for longer, so that they can be matched where they are (ParallelMatcher::
  // SubmitView) rather than copied: with n > 1 buffers in a ring, a block stays readable and
  // unchanged, its `capacity` bytes included, while n - 1 more blocks are handed out (the call
  // after those may reuse its buffer). The bytes after a block are never written again while
  // it is valid: the partial line that follows it is copied into the next buffer, which is
  // where reading goes on. Memory: n buffers of `buffer_bytes`.
  void KeepBlocks(size_t n);

  // The first bytes of the input, without consuming them (for format detection).
  std::string_view Peek();

  const Status& status() const { return status_; }
  uint64_t bytes_read() const { return bytes_read_; }  // decompressed bytes handed out
  uint64_t lines_too_long() const { return too_long_; }

 private:
  enum class Mode : uint8_t { kUnknown, kPlain, kGzip };

  LineSource() = default;
  bool Fill();
  bool ReadMore();
  ssize_t ReadSome(char* to, size_t n);

  int fd_ = -1;
  Mode mode_ = Mode::kUnknown;
  void* zs_ = nullptr;          // z_stream, for gzip input
  bool member_done_ = false;    // inflate ended a gzip member
  std::unique_ptr<char[]> in_;  // raw input read from fd_
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  bool in_eof_ = false;
  std::string path_;
  std::vector<std::unique_ptr<char[]>> buffers_;  // one, or the ring of KeepBlocks
  char* buf_ = nullptr;                           // buffers_[current_]
  size_t current_ = 0;
  bool handed_out_ = false;  // a block was handed out of buf_ since reading went on in it
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
