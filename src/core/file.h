#pragma once

// Reading whole inputs: files, gzip files (by the .gz suffix or magic bytes) and stdin ("-").
// The buffer keeps zeroed padding past its end so simdjson can parse it in place.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace liaison {

class Buffer {
 public:
  static constexpr size_t kPadding = 64;

  Buffer() = default;
  explicit Buffer(std::string_view bytes);

  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_.get(), size_}; }

  // Appends bytes, growing geometrically; padding is kept zeroed.
  void Append(const char* bytes, size_t n);
  // Makes room for `capacity` bytes without changing the size.
  void Reserve(size_t capacity);

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;  // excluding padding
};

struct ReadOptions {
  size_t max_bytes = size_t{4} << 30;  // after decompression; larger inputs are an error
};

// Reads `path` ("-" is stdin), decompressing gzip. Errors: NotFound, PermissionDenied,
// ResourceExhausted (over max_bytes), DataLoss (corrupt gzip), each naming the path.
Result<Buffer> ReadInput(std::string_view path, const ReadOptions& options = {});

}  // namespace liaison
