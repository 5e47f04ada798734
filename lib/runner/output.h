// Where a job's live output goes while it runs. Runners hand every chunk a
// job prints to write_job_output(); by default it goes straight to stderr.
// `mlo run` installs its own sink so the output of parallel stages and its
// status line do not overwrite each other (issue 25). The log file is
// written by the runner itself, whatever the sink does.
#pragma once
#include <functional>
#include <string_view>

namespace mlo {

// `job` is the job's run id (JobSpec::run_id); may be empty for a one-off job.
using JobOutputSink = std::function<void(std::string_view job, std::string_view chunk)>;

// Installs the sink (empty: back to stderr). Call before any job starts.
// The sink is called from runner threads and must be thread-safe.
void set_job_output_sink(JobOutputSink sink);
void write_job_output(std::string_view job, std::string_view chunk);

}  // namespace mlo
