#pragma once
// The commands of the `predictor` tool. Each lives in its own cmd_*.cpp,
// defines its own flags there, and is listed in main.cpp's command table.

#include <string>
#include <vector>

namespace predictor::tool {

struct Command {
  const char* name;     // as typed: `predictor <name> ...`
  const char* summary;  // one line, for the command list
  // Every flag the command reads, in the order its help lists them. A flag
  // of another command given to this one is an error, not silently ignored.
  std::vector<const char*> flags;
  // Runs the command once the flags are parsed; returns the exit code and
  // throws predictor::Error (or any std::exception) on failure.
  int (*run)();
  // More text for `predictor <name> --help`, after the flags; may be null.
  std::string (*more_help)() = nullptr;
};

extern const Command kInitWeightsCommand;
extern const Command kRunCommand;
extern const Command kBenchCommand;
extern const Command kMemplanCommand;
extern const Command kOptimizeCommand;
extern const Command kConvertCommand;
#ifdef PREDICTOR_TOOL_DETECT
extern const Command kDetectCommand;  // built with libjpeg and libpng only
#endif

}  // namespace predictor::tool
