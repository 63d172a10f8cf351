#include "command_line.h"

#include <cstdio>
#include <sstream>

namespace mend::tools {

namespace po = boost::program_options;

std::variant<po::variables_map, int> parse_command_line(const std::string& program, int argc,
                                                        const char* const* argv,
                                                        const po::options_description& description) {
  po::variables_map vm;
  try {
    const po::parsed_options parsed =
        po::command_line_parser(argc, argv)
            .options(description)
            .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
            .run();
    const auto stray = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!stray.empty()) return usage_error(program, "unexpected argument '" + stray.front() + "'");
    po::store(parsed, vm);
    if (vm.count("help")) {
      std::ostringstream out;
      out << description;
      std::fputs(out.str().c_str(), stdout);
      return 0;
    }
    po::notify(vm);  // after --help: a required flag is not required to ask for help
  } catch (const po::error& e) {
    return usage_error(program, e.what());
  }
  return vm;
}

int usage_error(const std::string& program, const std::string& reason) {
  std::fprintf(stderr, "%s: %s\n(see %s --help)\n", program.c_str(), reason.c_str(),
               program.c_str());
  return 2;
}

}  // namespace mend::tools
