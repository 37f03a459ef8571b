#include "core/file.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/strings.h"

namespace liaison {
namespace {

Status IoError(std::string_view path, int err) {
  std::string msg = StrCat(path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::UnavailableError(msg);
}

Status TooLarge(std::string_view path, size_t max) {
  return absl::ResourceExhaustedError(
      StrCat(path, ": input larger than the limit of ", max, " bytes"));
}

// Inflates a gzip stream (possibly several members, as `cat a.gz b.gz` makes).
Result<Buffer> Gunzip(std::string_view path, std::string_view in, size_t max_bytes) {
  Buffer out;
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return absl::InternalError("inflateInit2");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char chunk[1 << 16];
  int rc = Z_OK;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = sizeof chunk - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      inflateEnd(&zs);
      return TooLarge(path, max_bytes);
    }
    out.Append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK) {
      inflateEnd(&zs);
      return absl::DataLossError(StrCat(path, ": corrupt gzip data after byte ", zs.total_in, ": ",
                                        zs.msg ? zs.msg : "truncated"));
    }
    if (zs.avail_in == 0 && produced == 0) {
      inflateEnd(&zs);
      return absl::DataLossError(StrCat(path, ": truncated gzip data"));
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace

Buffer::Buffer(std::string_view bytes) { Append(bytes.data(), bytes.size()); }

void Buffer::Reserve(size_t capacity) {
  if (capacity <= capacity_ && data_) return;
  // make_unique_for_overwrite: the bytes past size_ are written before they are read, except
  // the padding, which is zeroed in Append.
  auto fresh = std::unique_ptr<char[]>(new char[capacity + kPadding]);
  if (size_ > 0) std::memcpy(fresh.get(), data_.get(), size_);
  data_ = std::move(fresh);
  capacity_ = capacity;
}

void Buffer::Append(const char* bytes, size_t n) {
  if (!data_ || size_ + n > capacity_) Reserve(std::max(size_ + n, capacity_ * 2));
  if (n > 0) std::memcpy(data_.get() + size_, bytes, n);
  size_ += n;
  std::memset(data_.get() + size_, 0, kPadding);
}

Result<Buffer> ReadInput(std::string_view path, const ReadOptions& options) {
  Buffer raw;
  FILE* f = path == "-" ? stdin : std::fopen(std::string(path).c_str(), "rb");
  if (f == nullptr) return IoError(path, errno);
  // Read straight into the buffer; its size is known for regular files.
  if (f != stdin && std::fseek(f, 0, SEEK_END) == 0) {
    const long end = std::ftell(f);
    std::rewind(f);
    if (end > 0 && static_cast<size_t>(end) <= options.max_bytes)
      raw.Reserve(static_cast<size_t>(end));
  }
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (raw.size() + n > options.max_bytes) {
      if (f != stdin) std::fclose(f);
      return TooLarge(path, options.max_bytes);
    }
    raw.Append(chunk, n);
  }
  const bool failed = std::ferror(f);
  const int err = errno;
  if (f != stdin) std::fclose(f);
  if (failed) return IoError(path, err);
  if (raw.size() >= 2 && static_cast<unsigned char>(raw.data()[0]) == 0x1f &&
      static_cast<unsigned char>(raw.data()[1]) == 0x8b) {
    return Gunzip(path, raw.view(), options.max_bytes);
  }
  if (raw.size() == 0) raw.Append("", 0);
  return raw;
}

}  // namespace liaison
