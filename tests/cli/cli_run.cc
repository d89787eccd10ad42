#include "cli_run.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/random_model.h"

namespace bge::testing {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

CliResult run_bge(const std::string& args, const std::string& input) {
    TempDir dir;
    const std::string in = dir.path() + "/in", out = dir.path() + "/out", err = dir.path() + "/err";
    std::ofstream(in, std::ios::binary) << input;
    const std::string cmd = std::string(BGE_BINARY) + " " + args + " < " + in + " > " + out + " 2> " + err;
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

}  // namespace bge::testing
