#include "cli_run.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>

#include "support/temp_dir.h"

namespace bge::testing {
CliResult run_bge(const std::string& args, const std::string& input) {
    TempDir dir;
    const std::string in = dir.path() + "/in", out = dir.path() + "/out", err = dir.path() + "/err";
    std::ofstream(in, std::ios::binary) << input;
    const std::string cmd = std::string(BGE_BINARY) + " " + args + " < " + in + " > " + out + " 2> " + err;
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
}

}  // namespace bge::testing
