// Helpers for fuzz targets whose parser reads files or a repository: one
// scratch folder per process (a fake work tree: .git/ and .mlo/ folders, no
// git objects), removed at exit, and small file writers.
#pragma once
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>


#include "core/error.h"

namespace mlo::fuzz {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mlo-fuzz-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) __builtin_trap();
    std::filesystem::path d = tmpl;
    std::filesystem::create_directories(d / ".git");
    std::filesystem::create_directories(d / ".mlo");
    static struct Cleanup {
      std::filesystem::path p;
      ~Cleanup() {
        std::error_code ec;
        std::filesystem::remove_all(p, ec);
      }
    } cleanup{d};
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at every `sep` byte (a fuzz input carrying several files).
inline std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t at = text.find(sep, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

// Runs `f`: mlo::Error is the expected answer to bad input; anything else,
// a raw yaml-cpp error included (every reader turns those into an error that
// names its file, repo/yaml_read.h), escapes and fails the fuzzer.
template <class F>
void expect_mlo_errors_only(F&& f) {
  try {
    f();
  } catch (const mlo::Error&) {
  }
}

}  // namespace mlo::fuzz
