// mend-load: mend's load generator (DESIGN.md section 10). See options.cpp for the usage text,
// couple.h for how a room is played and how latency is measured.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "options.h"
#include "report.h"
#include "runs.h"
#include "setup.h"

int main(int argc, char** argv) {
  using namespace mend::load;
  const OptionsParse parse = parse_options(std::vector<std::string>(argv + 1, argv + argc));
  if (parse.help) {
    std::cout << usage_text();
    return 0;
  }
  if (!parse.options) {
    std::cerr << "mend-load: " << parse.error << "\n(see mend-load --help)\n";
    return 2;
  }
  const LoadOptions& options = *parse.options;
  std::string error;
  const auto setup = prepare(options, error);
  if (!setup) {
    std::cerr << "mend-load: " << error << "\n";
    return 1;
  }
  if (!options.quiet && !setup->server_pid) {
    std::cerr << "mend-load: the server process was not found on this machine; no RSS/CPU "
                 "figures (give --server-pid)\n";
  }
  // The certificate fetched for --insecure is a temporary file of this run.
  auto drop_fetched = [&] {
    std::error_code ignored;
    if (options.insecure && !setup->ca_file.empty()) std::filesystem::remove(setup->ca_file, ignored);
  };
  if (options.idle > 0) {
    const IdleReport report = run_idle(options, *setup);
    drop_fetched();
    std::cout << (options.json ? to_json(report) + "\n" : to_text(report));
    return report.connected == report.requested && report.errors == 0 ? 0 : 1;
  }
  const LoadReport report = options.relay ? run_relay(options, *setup) : run_load(options, *setup);
  drop_fetched();
  std::cout << (options.json ? to_json(report) + "\n" : to_text(report));
  return report.accepted > 0 && report.integrity.intact() ? 0 : 1;
}
