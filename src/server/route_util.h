// What the route files share: reading the common request fields and submitting to the engine with
// errors answered in the route's shape.
#pragma once

#include <optional>

#include "server/app.h"

namespace bge::server {

// `truncate`: true/false, or absent/null (then --auto-truncate decides).
StatusOr<std::optional<bool>> get_truncate(const Json& body);
// TEI's truncation_direction: "right"/"Right" (the default: the head is kept) or "left"/"Left" (the tail is kept);
// true for left.
StatusOr<bool> get_keep_tail(const Json& body);

// Submits to the embedder; `done` runs with the response, errors are answered by the call.
// keep_tail: truncation keeps the last tokens (TEI's truncation_direction "left").
void submit_embed(const CallPtr& call, std::vector<EmbedInput> inputs, EmbedOptions outputs,
                  std::optional<bool> truncate, std::function<void(EmbedResponse&)> done, bool keep_tail = false);
void submit_rerank(const CallPtr& call, std::vector<TextPair> pairs, std::optional<bool> truncate,
                   std::function<void(RerankResponse&)> done, bool keep_tail = false);

std::vector<EmbedInput> text_inputs(std::vector<std::string> texts);

// Parses the body or answers the error; nullopt when answered.
std::optional<Json> body_or_reply(const CallPtr& call);

// Evaluates a StatusOr expression; on error answers the call and returns from the handler.
#define BGE_OR_REPLY(lhs, call, expr) BGE_OR_REPLY_IMPL(BGE_STATUS_CONCAT(bge_or_reply_, __LINE__), lhs, call, expr)
#define BGE_OR_REPLY_IMPL(tmp, lhs, call, expr)               \
    auto tmp = (expr);                                        \
    if (!tmp.ok()) return (call)->reply_status(tmp.status()); \
    lhs = std::move(tmp).value()

}  // namespace bge::server
