// The main of a fuzz target outside the `fuzz` preset (see fuzz_target.h):
//   <target> PATH...              runs every file (a directory: each regular file in it) once
//   <target> --write-seeds DIR    writes the target's seeds into DIR as seed-NNN files
// Exits 0 after running everything; a failing property aborts, naming the file first.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs_under(const fs::path& path) {
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::directory_iterator(path)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  return files;
}

int write_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  const auto seeds = mend::fuzz::seeds();
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    std::string name = std::to_string(i);
    name.insert(0, name.size() < 3 ? 3 - name.size() : 0, '0');
    std::ofstream(dir / ("seed-" + name), std::ios::binary) << seeds[i];
  }
  std::cout << "wrote " << seeds.size() << " seeds to " << dir.string() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "--write-seeds") return write_seeds(args[1]);
  if (args.empty()) {
    std::cerr << "usage: " << argv[0] << " PATH... | --write-seeds DIR\n";
    return 2;
  }
  std::size_t ran = 0;
  for (const auto& arg : args) {
    if (!fs::exists(arg)) {
      std::cerr << "no such corpus: " << arg << "\n";
      return 2;
    }
    for (const auto& file : inputs_under(arg)) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::cerr << "input " << file.filename().string() << "\r";
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++ran;
    }
  }
  std::cout << "ran " << ran << " inputs\n";
  return ran == 0 ? 1 : 0;
}
