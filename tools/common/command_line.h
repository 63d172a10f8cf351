// The command line of mend's benchmark tools (bench-startup, bench-store): Boost.Program_options
// with one behaviour for all of them. Not for mend-load and mend, whose errors are stable
// sentences tested in tests/load and tests/cli.
// Thread safety: call from one thread (it writes to stdout/stderr).
#pragma once

#include <string>
#include <variant>

#include <boost/program_options.hpp>

namespace mend::tools {

// Parses argv against `description` and runs its notifiers. Long names are exact (no
// abbreviations); a value follows '=' or is the next argument; a word that is not a flag's
// value is an error. `description` should have "help,h".
// Returns the parsed values, or the exit code to return from main: 0 after --help (the
// description printed on stdout), 2 after a usage error (printed on stderr as
// "<program>: <reason>\n(see <program> --help)").
std::variant<boost::program_options::variables_map, int> parse_command_line(
    const std::string& program, int argc, const char* const* argv,
    const boost::program_options::options_description& description);

// Prints a usage error as parse_command_line does; returns 2, the exit code for main.
int usage_error(const std::string& program, const std::string& reason);

}  // namespace mend::tools
