// Replays inputs through a fuzz target without libFuzzer: every regular file under each
// argument (a file or a directory, recursively), in sorted order. Exits 0 when all ran;
// a crashing input ends the program as it would under libFuzzer.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_target.h"

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::error_code error;
    const std::filesystem::path root(argv[i]);
    if (std::filesystem::is_directory(root, error)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root, error)) {
        // Dot files (.gitkeep) are not inputs.
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') {
          inputs.push_back(entry.path());
        }
      }
    } else if (std::filesystem::is_regular_file(root, error)) {
      inputs.push_back(root);
    } else {
      std::cerr << argv[0] << ": no such input: " << root.string() << "\n";
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::cout << argv[0] << ": " << inputs.size() << " inputs replayed\n";
  return inputs.empty() ? 2 : 0;
}
