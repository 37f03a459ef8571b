#include "match/line_source.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/strings.h"

namespace liaison::match {
namespace {
constexpr size_t kPadding = 64;            // simdjson::SIMDJSON_PADDING
constexpr size_t kInputBytes = 256 << 10;  // compressed (or plain) bytes read at a time
}  // namespace

Result<std::unique_ptr<LineSource>> LineSource::Open(const std::string& path, size_t buffer_bytes) {
  int fd = path == "-" ? dup(0) : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    const std::string msg = StrCat(path, ": ", std::strerror(e));
    if (e == ENOENT) return absl::NotFoundError(msg);
    if (e == EACCES) return absl::PermissionDeniedError(msg);
    return absl::UnavailableError(msg);
  }
  std::unique_ptr<LineSource> s(new LineSource());
  s->fd_ = fd;
  s->path_ = path;
  s->cap_ = buffer_bytes < 4096 ? 4096 : buffer_bytes;
  s->buffers_.push_back(std::make_unique<char[]>(s->cap_ + kPadding));
  s->buf_ = s->buffers_[0].get();
  s->in_ = std::make_unique<char[]>(kInputBytes);
  return s;
}

LineSource::~LineSource() {
  if (zs_ != nullptr) {
    inflateEnd(static_cast<z_stream*>(zs_));
    delete static_cast<z_stream*>(zs_);
  }
  if (fd_ >= 0) close(fd_);
}

// One read() of whatever the input has (a pipe may give a few bytes). 0 at the end.
ssize_t LineSource::ReadSome(char* to, size_t n) {
  while (true) {
    const ssize_t r = read(fd_, to, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

// Adds at least one byte at end_ (end_ < cap_), or returns false at the end of the input or on
// an error (status_). The input is told apart by its first two bytes (RFC 1952: 1f 8b): gzip
// goes through inflate, concatenated members too as gzip -d reads them; anything else is
// copied as it is.
bool LineSource::ReadMore() {
  auto* zs = static_cast<z_stream*>(zs_);
  while (true) {
    if (mode_ == Mode::kPlain && in_begin_ == in_end_) {
      // Plain text once the first bytes are handed on: read straight into the line buffer,
      // not through in_ and a copy (the copy was a second pass over every byte).
      if (in_eof_) return false;
      const ssize_t r = ReadSome(buf_ + end_, cap_ - end_);
      if (r < 0) {
        status_ = absl::UnavailableError(StrCat(path_, ": ", std::strerror(errno)));
        return false;
      }
      if (r == 0) {
        in_eof_ = true;
        return false;
      }
      end_ += static_cast<size_t>(r);
      return true;
    }
    if (in_begin_ == in_end_ && !in_eof_) {
      const ssize_t r = ReadSome(in_.get(), kInputBytes);
      if (r < 0) {
        status_ = absl::UnavailableError(StrCat(path_, ": ", std::strerror(errno)));
        return false;
      }
      in_begin_ = 0;
      in_end_ = static_cast<size_t>(r);
      if (r == 0) in_eof_ = true;
    }
    if (mode_ == Mode::kUnknown) {
      if (in_end_ - in_begin_ < 2 && !in_eof_) {
        // A one-byte first read: the second byte decides.
        if (in_begin_ > 0) {
          std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
          in_end_ -= in_begin_;
          in_begin_ = 0;
        }
        const ssize_t r = ReadSome(in_.get() + in_end_, kInputBytes - in_end_);
        if (r < 0) {
          status_ = absl::UnavailableError(StrCat(path_, ": ", std::strerror(errno)));
          return false;
        }
        if (r == 0) in_eof_ = true;
        in_end_ += static_cast<size_t>(r);
        continue;
      }
      const auto* b = reinterpret_cast<const unsigned char*>(in_.get() + in_begin_);
      if (in_end_ - in_begin_ >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
        zs = new z_stream{};
        if (inflateInit2(zs, 15 + 16) != Z_OK) {  // 32 KiB window, gzip wrapper
          delete zs;
          status_ = absl::ResourceExhaustedError(StrCat(path_, ": cannot set up decompression"));
          return false;
        }
        zs_ = zs;
        mode_ = Mode::kGzip;
      } else {
        mode_ = Mode::kPlain;
      }
    }
    const size_t have = in_end_ - in_begin_;
    if (mode_ == Mode::kPlain) {
      if (have == 0) return false;  // the end
      const size_t n = std::min(have, cap_ - end_);
      std::memcpy(buf_ + end_, in_.get() + in_begin_, n);
      in_begin_ += n;
      end_ += n;
      return true;
    }
    if (have == 0) {
      if (member_done_) return false;  // a clean end after a whole member
      status_ = absl::DataLossError(StrCat(path_, ": unexpected end of file"));
      return false;
    }
    if (member_done_) {
      // Another member follows (cat a.gz b.gz); zero bytes after the last one are padding.
      if (in_[in_begin_] == 0) {
        ++in_begin_;
        continue;
      }
      inflateReset(zs);
      member_done_ = false;
    }
    zs->next_in = reinterpret_cast<Bytef*>(in_.get() + in_begin_);
    zs->avail_in = static_cast<uInt>(have);
    zs->next_out = reinterpret_cast<Bytef*>(buf_ + end_);
    zs->avail_out = static_cast<uInt>(cap_ - end_);
    const int rc = inflate(zs, Z_NO_FLUSH);
    const size_t produced = (cap_ - end_) - zs->avail_out;
    in_begin_ = in_end_ - zs->avail_in;
    end_ += produced;
    if (rc == Z_STREAM_END) {
      member_done_ = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      status_ = absl::DataLossError(
          StrCat(path_, ": ", zs->msg != nullptr ? zs->msg : "corrupt gzip stream"));
      return false;
    }
    if (produced > 0) return true;
  }
}

bool LineSource::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    if (handed_out_ && buffers_.size() > 1) {
      // A block was handed out of this buffer: leave it as it is and go on in the next one of
      // the ring, with the partial line that follows the block.
      current_ = (current_ + 1) % buffers_.size();
      char* next = buffers_[current_].get();
      std::memcpy(next, buf_ + begin_, end_ - begin_);
      buf_ = next;
      handed_out_ = false;
    } else {
      std::memmove(buf_, buf_ + begin_, end_ - begin_);
    }
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) return true;  // full: the caller deals with an over-long line
  if (!ReadMore()) {
    eof_ = true;
    return end_ > begin_;
  }
  return true;
}

void LineSource::KeepBlocks(size_t n) {
  while (buffers_.size() < n) buffers_.push_back(std::make_unique<char[]>(cap_ + kPadding));
}

std::string_view LineSource::Peek() {
  // Reads may come short (a pipe): wait for a whole first line, as format detection reads it.
  while (end_ - begin_ < 4096 && !eof_ &&
         std::memchr(buf_ + begin_, '\n', end_ - begin_) == nullptr) {
    if (!Fill()) break;
  }
  return {buf_ + begin_, end_ - begin_};
}

bool LineSource::NextBlock(std::string_view& block, size_t& capacity) {
  while (true) {
    const bool had_data = end_ > begin_;
    if (!had_data || skipping_ || std::memchr(buf_ + begin_, '\n', end_ - begin_) == nullptr) {
      if (!Fill() && end_ == begin_) return false;
    }
    char* start = buf_ + begin_;
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
    handed_out_ = true;
    return true;
  }
}

}  // namespace liaison::match
