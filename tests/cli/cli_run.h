// Runs build/bge as a child process with the given stdin, capturing exit code, stdout and stderr.
#pragma once

#include <string>

namespace bge::testing {

struct CliResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

CliResult run_bge(const std::string& args, const std::string& input);

}  // namespace bge::testing
