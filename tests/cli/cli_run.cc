#include "cli_run.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "support/temp_dir.h"

namespace bge::testing {

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

CliResult run_bge(const CliRun& run) {
    TempDir dir;
    const std::string in = run.stdin_path.empty() ? dir.path() + "/in" : run.stdin_path;
    const std::string out = run.stdout_path.empty() ? dir.path() + "/out" : run.stdout_path;
    const std::string err = dir.path() + "/err";
    if (run.stdin_path.empty()) std::ofstream(in, std::ios::binary) << run.input;
    // exec: the shell becomes bge, so the rusage and the exit status are bge's own.
    const std::string cmd = "exec " + std::string(BGE_BINARY) + " " + run.args + " < " + shell_quote(in) + " > " +
                            shell_quote(out) + " 2> " + shell_quote(err);
    const pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    CliResult r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(run.timeout_seconds);
    int status = 0;
    rusage usage{};
    while (wait4(pid, &status, WNOHANG, &usage) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            r.timed_out = true;
            kill(pid, SIGKILL);
            wait4(pid, &status, 0, &usage);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.max_rss_kb = usage.ru_maxrss;
    if (run.stdout_path.empty()) r.out = read_file(out);
    r.err = read_file(err);
    return r;
}

CliResult run_bge(const std::string& args, const std::string& input) {
    CliRun run;
    run.args = args;
    run.input = input;
    return run_bge(run);
}

}  // namespace bge::testing
