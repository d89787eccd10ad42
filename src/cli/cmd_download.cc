// bge download owner/name[@revision] [--include PATTERN ...]: fetches into the Hugging Face cache without
// loading, re-checks what was cached (sizes, sha256 or git blob ids), and prints the snapshot folder on stdout.
#include "bge/hub.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace bge::cli {

int run_download(const DownloadOptions& options) {
    auto spec = parse_model_spec(options.repo);
    if (!spec.ok()) return fail(spec.status());
    if (spec->is_local) return fail(invalid_argument(options.repo + " is a local folder, not a hub repo id"));
    HubOptions hub;
    hub.quiet = options.quiet;
    hub.include = options.include;
    hub.verify_cached = true;
    auto dir = resolve_model(options.repo, hub);
    if (!dir.ok()) return fail(dir.status());
    if (Status s = write_stdout(*dir + "\n"); !s.ok()) return fail(s);
    return 0;
}

}  // namespace bge::cli
