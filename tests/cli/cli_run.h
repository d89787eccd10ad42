// Runs build/bge as a child process with the given stdin, capturing exit code, stdout and stderr; a run
// past its time limit is killed and reported, and the child's peak memory is measured.
#pragma once

#include <string>

namespace bge::testing {

struct CliResult {
    int exit_code = -1;  // 128 + signal when killed by one
    std::string out;
    std::string err;
    bool timed_out = false;
    long max_rss_kb = 0;  // the child's peak resident memory
};

struct CliRun {
    std::string args;
    std::string input;        // written to a file that becomes stdin, unless stdin_path is set
    std::string stdin_path;   // e.g. /dev/zero or a directory
    std::string stdout_path;  // e.g. /dev/full; then `out` stays empty
    double timeout_seconds = 120;
};

CliResult run_bge(const CliRun& run);
CliResult run_bge(const std::string& args, const std::string& input);

// A shell word: `s` in single quotes.
std::string shell_quote(const std::string& s);

}  // namespace bge::testing
