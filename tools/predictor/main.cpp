// predictor: the command-line tool. `predictor <command> --flag=value ...`,
// like `caffe`. Every failure is one line on stderr,
//   predictor: error: <message>
// and exit code 1; the library's messages name the file, layer and field.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <set>
#include <string>

#include <gflags/gflags.h>
#include <glog/logging.h>

#include "commands.h"
#include "predictor/Error.h"

DECLARE_bool(help);  // gflags' own

namespace predictor::tool {
namespace {

const Command* const kCommands[] = {&kInitWeightsCommand, &kRunCommand, &kBenchCommand, &kMemplanCommand,
                                   &kOptimizeCommand, &kConvertCommand,
#ifdef PREDICTOR_TOOL_DETECT
                                   &kDetectCommand
#endif
};

void print_usage(std::ostream& out) {
  out << "usage: predictor <command> --flag=value ...\n\ncommands:\n";
  for (const Command* command : kCommands) {
    out << "  " << command->name << std::string(14 - std::strlen(command->name), ' ') << command->summary << "\n";
  }
  out << "\n`predictor <command> --help` lists a command's flags.\n";
}

void print_command_help(const Command& command) {
  std::cout << "usage: predictor " << command.name << " --flag=value ...\n" << command.summary << "\n\nflags:\n";
  for (const char* name : command.flags) {
    // The descriptions live with the flag definitions, in gflags' registry.
    const gflags::CommandLineFlagInfo flag = gflags::GetCommandLineFlagInfoOrDie(name);
    std::cout << "  --" << flag.name << std::string(20 - std::min<std::size_t>(flag.name.size(), 19), ' ')
              << flag.description;
    // A flag whose default is a sentinel (--batch's 0: the model's own) says
    // what the default means in its description.
    const bool describes_default = flag.description.find("(default: ") != std::string::npos;
    if (!flag.default_value.empty() && !describes_default) std::cout << " (default: " << flag.default_value << ")";
    std::cout << "\n";
  }
  if (command.more_help != nullptr) std::cout << "\n" << command.more_help();
}

// The one-line error report; messages never span lines.
int report_error(std::string message) {
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::cerr << "predictor: error: " << message << std::endl;
  return 1;
}

// A flag of another command given to this one would silently do nothing:
// say so instead.
void check_flags_apply(const Command& command) {
  std::set<std::string> known;
  for (const Command* other : kCommands) known.insert(other->flags.begin(), other->flags.end());
  for (const std::string& name : known) {
    const bool applies = std::find(command.flags.begin(), command.flags.end(), name) != command.flags.end();
    if (!applies && !gflags::GetCommandLineFlagInfoOrDie(name.c_str()).is_default) {
      throw Error("--" + name + " does not apply to '" + command.name + "'");
    }
  }
}

int run_tool(int argc, char** argv) {
  // Quiet by default; --minloglevel and --logtostderr still override.
  FLAGS_logtostderr = true;
  FLAGS_minloglevel = google::GLOG_WARNING;
  gflags::SetUsageMessage("predictor <command> --flag=value ... (predictor --help lists the commands)");
  gflags::ParseCommandLineNonHelpFlags(&argc, &argv, /*remove_flags=*/true);
  google::InitGoogleLogging(argv[0]);

  if (argc < 2) {
    print_usage(FLAGS_help ? std::cout : std::cerr);
    return FLAGS_help ? 0 : 1;
  }
  const std::string name = argv[1];
  const auto it = std::find_if(std::begin(kCommands), std::end(kCommands),
                               [&](const Command* command) { return name == command->name; });
  if (it == std::end(kCommands)) {
#ifndef PREDICTOR_TOOL_DETECT
    if (name == "detect") return report_error("this predictor was built without libjpeg and libpng: no 'detect'");
#endif
    print_usage(std::cerr);
    return report_error("unknown command '" + name + "'");
  }
  const Command& command = **it;
  if (FLAGS_help) {
    print_command_help(command);
    return 0;
  }
  gflags::HandleCommandLineHelpFlags();  // --helpfull, --version, ...
  if (argc > 2) return report_error(std::string("unexpected argument '") + argv[2] + "' (flags are --name=value)");

  try {
    check_flags_apply(command);
    return command.run();
  } catch (const std::bad_alloc&) {
    return report_error("out of memory");
  } catch (const std::exception& error) {
    return report_error(error.what());
  }
}

}  // namespace
}  // namespace predictor::tool

int main(int argc, char** argv) { return predictor::tool::run_tool(argc, argv); }
