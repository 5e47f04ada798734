// Starting child processes without a shell: argv in, exit status and output out.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlo {

struct ProcessSpec {
  std::vector<std::string> argv;
  std::filesystem::path cwd;                 // empty: inherit
  std::map<std::string, std::string> env;    // added to (or overriding) the environment
  bool capture_stdout = true;                // false: inherit the parent's stdout
  bool capture_stderr = true;                // false: inherit the parent's stderr
  std::string stdin_data;                    // fed to the child's stdin, then closed
};

struct ProcessResult {
  int exit_code = -1;   // valid when term_signal == 0
  int term_signal = 0;  // signal that ended the child, or 0
  std::string out;
  std::string err;
  bool ok() const { return term_signal == 0 && exit_code == 0; }
};

// Runs a process to completion. Throws InputError when it can not be started
// (program not found).
ProcessResult run_process(const ProcessSpec& spec);

// Looks a program up on PATH like execvp does.
std::optional<std::filesystem::path> find_program(const std::string& name);
// The same with an explicit PATH value (e.g. the PATH a child will get).
std::optional<std::filesystem::path> find_program_in(const std::string& name, const std::string& path_list);

}  // namespace mlo
