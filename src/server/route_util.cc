#include "server/route_util.h"

namespace bge::server {

StatusOr<std::optional<bool>> get_truncate(const Json& body) {
    if (!has(body, "truncate")) return std::optional<bool>();
    BGE_ASSIGN_OR_RETURN(bool t, get_bool(body, "truncate", false));
    return std::optional<bool>(t);
}

StatusOr<bool> get_keep_tail(const Json& body) {
    BGE_ASSIGN_OR_RETURN(std::string dir, get_string(body, "truncation_direction", "right"));
    if (dir == "right" || dir == "Right") return false;
    if (dir == "left" || dir == "Left") return true;
    return invalid_argument("`truncation_direction` must be \"right\" or \"left\"");
}

std::vector<EmbedInput> text_inputs(std::vector<std::string> texts) {
    std::vector<EmbedInput> inputs;
    inputs.reserve(texts.size());
    for (std::string& t : texts) inputs.push_back({std::move(t), {}, false});
    return inputs;
}

std::optional<Json> body_or_reply(const CallPtr& call) {
    StatusOr<Json> body = parse_body(call->request().body);
    if (!body.ok()) {
        call->reply_status(body.status());
        return std::nullopt;
    }
    return std::move(body).value();
}

void submit_embed(const CallPtr& call, std::vector<EmbedInput> inputs, EmbedOptions outputs,
                  std::optional<bool> truncate, std::function<void(EmbedResponse&)> done, bool keep_tail) {
    EmbedRequest request;
    request.inputs = std::move(inputs);
    request.outputs = outputs;
    request.control = call->control(truncate);
    request.control.keep_tail = keep_tail;
    call->app().engine()->submit(std::move(request), [call, done = std::move(done)](StatusOr<EmbedResponse> r) {
        call->app().post([call, done, r = std::move(r)]() mutable {
            if (!r.ok()) return call->reply_status(r.status());
            done(*r);
        });
    });
}

void submit_rerank(const CallPtr& call, std::vector<TextPair> pairs, std::optional<bool> truncate,
                   std::function<void(RerankResponse&)> done, bool keep_tail) {
    RerankRequest request;
    request.pairs = std::move(pairs);
    request.control = call->control(truncate);
    request.control.keep_tail = keep_tail;
    call->app().engine()->submit(std::move(request), [call, done = std::move(done)](StatusOr<RerankResponse> r) {
        call->app().post([call, done, r = std::move(r)]() mutable {
            if (!r.ok()) return call->reply_status(r.status());
            done(*r);
        });
    });
}

}  // namespace bge::server
