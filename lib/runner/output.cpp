#include "runner/output.h"

#include <unistd.h>

#include <cerrno>

namespace mlo {
namespace {

JobOutputSink& installed_sink() {
  static JobOutputSink sink;
  return sink;
}

void write_stderr(std::string_view chunk) {
  size_t off = 0;
  while (off < chunk.size()) {
    ssize_t w = ::write(2, chunk.data() + off, chunk.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // a closed terminal must not stop the job
    off += static_cast<size_t>(w);
  }
}

}  // namespace

void set_job_output_sink(JobOutputSink sink) { installed_sink() = std::move(sink); }

void write_job_output(std::string_view job, std::string_view chunk) {
  if (installed_sink()) installed_sink()(job, chunk);
  else write_stderr(chunk);
}

}  // namespace mlo
