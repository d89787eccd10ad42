// Scratch folders and file helpers shared by the tests.
#pragma once

#include <string>

namespace bge::testing {

// A fresh empty directory under the system temp dir, removed with everything in it by the destructor.
class TempDir {
 public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Writes `bytes` to <dir>/<name> and returns the full path.
    std::string write(const std::string& name, const std::string& bytes) const;

 private:
    std::string path_;
};

// The whole file; throws if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace bge::testing
