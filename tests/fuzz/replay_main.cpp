// Replays inputs through a fuzz target's LLVMFuzzerTestOneInput without
// libFuzzer, in any build (gcc or clang, sanitizers or not): the regression
// tests of tests/fuzz/regressions run this way in CI's regular build.
//   fuzz_<target>_replay [--timeout=SECONDS] FILE_OR_DIR...
// Folders: every file below, sorted. A crash, a sanitizer report, an
// escaping exception or an input running past the timeout (default 60 s, as
// a hang or unbounded work would) fails the process.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

char current[4096];  // the input running, for the timeout message

void on_timeout(int) {
  const char* parts[] = {"replay: ", current, ": still running after the timeout (a hang or unbounded work)\n"};
  for (const char* part : parts) {
    if (::write(2, part, std::strlen(part)) < 0) break;
  }
  std::_Exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  unsigned timeout = 60;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--timeout=", 10) == 0) {
      timeout = static_cast<unsigned>(std::strtoul(argv[i] + 10, nullptr, 10));
      continue;
    }
    const fs::path arg = argv[i];
    if (fs::is_directory(arg)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) found.push_back(entry.path());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(arg)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "replay: %s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  std::signal(SIGALRM, on_timeout);
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "replay: %s: read error\n", file.c_str());
      return 2;
    }
    std::printf("replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
    std::fflush(stdout);
    std::snprintf(current, sizeof current, "%s", file.c_str());
    ::alarm(timeout);
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    ::alarm(0);
  }
  std::printf("replay: %zu inputs, none crashed\n", files.size());
  return 0;
}
