#include "psi/run_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/synchronization/mutex.h"
#include "core/json.h"
#include "core/strings.h"
#include "core/timestamp.h"

namespace liaison::psi {
namespace {

std::string FormatTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return Timestamp::FromUnixNanos(micros / 1000000, static_cast<int32_t>(micros % 1000000) * 1000)
      .ToString(6);
}

class FileRunRecorder : public RunRecorder {
 public:
  FileRunRecorder(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileRunRecorder() override { ::close(fd_); }

  Status Record(const RunRecord& record) override {
    const std::string line = RunRecordJson(record) + "\n";
    absl::MutexLock lock(&mu_);
    size_t done = 0;
    while (done < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        return absl::UnavailableError(
            StrCat(path_, ": cannot record the PSI run: ", std::strerror(errno)));
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd_) != 0) {
      return absl::UnavailableError(StrCat(path_, ": fsync: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

 private:
  absl::Mutex mu_;
  int fd_;
  std::string path_;
};

}  // namespace

std::string RunRecordJson(const RunRecord& r) {
  json::Object o{{"started", FormatTime(r.started)},
                 {"ended", FormatTime(r.ended)},
                 {"session", r.session_id},
                 {"role", r.role},
                 {"user", r.user},
                 {"partner", r.partner},
                 {"mode", r.mode},
                 {"kind", r.kind},
                 {"list", r.list},
                 {"requester_set_size", static_cast<int64_t>(r.requester_set_size)},
                 {"responder_set_size", static_cast<int64_t>(r.responder_set_size)}};
  if (r.result_size) o.emplace_back("result_size", static_cast<int64_t>(*r.result_size));
  o.emplace_back("outcome", r.outcome);
  return json::Serialize(json::Value(std::move(o)));
}

Result<std::unique_ptr<RunRecorder>> OpenFileRunRecorder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        StrCat(path, ": cannot open the PSI run log: ", std::strerror(errno)));
  }
  return std::unique_ptr<RunRecorder>(new FileRunRecorder(fd, path));
}

}  // namespace liaison::psi
