#include "match/line_source.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "core/strings.h"

namespace liaison::match {
namespace {
constexpr size_t kPadding = 64;  // simdjson::SIMDJSON_PADDING
}

Result<std::unique_ptr<LineSource>> LineSource::Open(const std::string& path, size_t buffer_bytes) {
  int fd = path == "-" ? dup(0) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    const std::string msg = StrCat(path, ": ", std::strerror(e));
    if (e == ENOENT) return absl::NotFoundError(msg);
    if (e == EACCES) return absl::PermissionDeniedError(msg);
    return absl::UnavailableError(msg);
  }
  gzFile gz = gzdopen(fd, "rb");
  if (gz == nullptr) {
    close(fd);
    return absl::ResourceExhaustedError(StrCat(path, ": cannot set up decompression"));
  }
  gzbuffer(gz, 256 << 10);
  std::unique_ptr<LineSource> s(new LineSource());
  s->gz_ = gz;
  s->path_ = path;
  s->cap_ = buffer_bytes < 4096 ? 4096 : buffer_bytes;
  s->buf_ = std::make_unique<char[]>(s->cap_ + kPadding);
  return s;
}

LineSource::~LineSource() {
  if (gz_ != nullptr) gzclose(static_cast<gzFile>(gz_));
}

bool LineSource::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) return true;  // full: the caller deals with an over-long line
  const int n =
      gzread(static_cast<gzFile>(gz_), buf_.get() + end_, static_cast<unsigned>(cap_ - end_));
  if (n < 0) {
    int err = 0;
    const char* msg = gzerror(static_cast<gzFile>(gz_), &err);
    status_ = absl::DataLossError(StrCat(path_, ": ", msg ? msg : "read error"));
    eof_ = true;
    return false;
  }
  if (n == 0) {
    eof_ = true;
    return end_ > begin_;
  }
  end_ += static_cast<size_t>(n);
  return true;
}

std::string_view LineSource::Peek() {
  if (end_ - begin_ < 4096 && !eof_) Fill();
  return {buf_.get() + begin_, end_ - begin_};
}

bool LineSource::NextBlock(std::string_view& block, size_t& capacity) {
  while (true) {
    const bool had_data = end_ > begin_;
    if (!had_data || skipping_ ||
        std::memchr(buf_.get() + begin_, '\n', end_ - begin_) == nullptr) {
      if (!Fill() && end_ == begin_) return false;
    }
    char* start = buf_.get() + begin_;
    const size_t avail = end_ - begin_;
    if (skipping_) {
      const void* nl = std::memchr(start, '\n', avail);
      if (nl == nullptr) {
        begin_ = end_;
        if (eof_) return false;
        continue;
      }
      begin_ += static_cast<const char*>(nl) - start + 1;
      skipping_ = false;
      continue;
    }
    size_t take = 0;
    for (size_t i = avail; i > 0; --i) {  // the last line feed in the buffer
      if (start[i - 1] == '\n') {
        take = i;
        break;
      }
    }
    if (take == 0) {
      if (eof_) {
        take = avail;  // the last line has no line feed
      } else if (avail == cap_) {
        ++too_long_;  // a line longer than the buffer: drop it
        skipping_ = true;
        begin_ = end_;
        continue;
      } else {
        continue;
      }
    }
    // `capacity`: the rest of the buffer and its zeroed padding are readable past the block.
    block = std::string_view(start, take);
    capacity = cap_ + kPadding - begin_;
    bytes_read_ += take;
    begin_ += take;
    return true;
  }
}

}  // namespace liaison::match
