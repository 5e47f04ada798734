// Replays fuzz inputs without libFuzzer: runs every file under the given files
// or folders through LLVMFuzzerTestOneInput (the same function the fuzzer
// calls), so `ctest` keeps the seed corpus and every crash input found so far.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

static void run_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

int main(int argc, char** argv) {
  long n = 0;
  for (int i = 1; i < argc; ++i) {
    fs::path root = argv[i];
    if (fs::is_regular_file(root)) {
      run_file(root);
      ++n;
      continue;
    }
    if (!fs::is_directory(root)) continue;  // e.g. no crash inputs yet
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.is_regular_file() && e.path().filename() != "README") {
        run_file(e.path());
        ++n;
      }
  }
  std::printf("replayed %ld inputs\n", n);
  return n > 0 ? 0 : 1;
}
