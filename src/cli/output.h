// The CLI's stdout: every write and the final close are checked, so output is never lost with exit 0.
// A closed pipe (`| head`) ends the process by SIGPIPE, quietly, as Unix tools do (main keeps that default).
#pragma once

#include <string_view>

#include "bge/status.h"

namespace bge::cli {

// Writes all of `bytes` to stdout, retrying short writes and EINTR; kInternal naming errno otherwise.
Status write_stdout(std::string_view bytes);

// Closes stdout and reports an error the system deferred until then.
Status close_stdout();

}  // namespace bge::cli
