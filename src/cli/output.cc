#include "cli/output.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace bge::cli {

Status write_stdout(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {  // a non-blocking stdout: wait until it drains
                pollfd p{STDOUT_FILENO, POLLOUT, 0};
                if (::poll(&p, 1, -1) >= 0 || errno == EINTR) continue;
            }
            return internal_error(std::string("writing stdout failed: ") + std::strerror(errno));
        }
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return ok_status();
}

Status close_stdout() {
    if (::close(STDOUT_FILENO) != 0 && errno != EINTR) {
        return internal_error(std::string("closing stdout failed: ") + std::strerror(errno));
    }
    return ok_status();
}

}  // namespace bge::cli
