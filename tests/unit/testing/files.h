// File helpers for storage tests: a fresh temporary directory per test, LevelDB's newest
// write-ahead file, and damage done to a file the way a bad disk or an operator would.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace dnsd::testing {

// An empty directory under the system's temp dir, unique to this process and `name`.
inline std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("dnsd-test-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

// The newest non-empty LevelDB write-ahead file (*.log) in `dir`, or "".
inline std::string NewestWal(const std::string& dir) {
  std::string newest;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".log" && std::filesystem::file_size(f.path()) > 0 &&
        f.path().string() > newest) {
      newest = f.path().string();
    }
  }
  return newest;
}

// Overwrites the byte at `fraction` of the file's length with `value`.
inline void DamageByte(const std::string& path, double fraction, char value) {
  const auto size = std::filesystem::file_size(path);
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(static_cast<double>(size) * fraction));
  f.put(value);
}

}  // namespace dnsd::testing
