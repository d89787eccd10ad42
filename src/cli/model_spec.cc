// The one place where the CLI turns --model (a folder or owner/name[@revision]) into a folder to open.
#include "bge/hub.h"
#include "cli/commands.h"

namespace bge::cli {

Status resolve_model_option(std::string& model, bool quiet) {
    if (model.empty()) return ok_status();  // a subcommand without --model
    HubOptions options;
    options.quiet = quiet;
    BGE_ASSIGN_OR_RETURN(model, resolve_model(model, options));
    return ok_status();
}

}  // namespace bge::cli
