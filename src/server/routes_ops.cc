// Operations: GET /health (no key; 200 when ready: "ok", or "degraded" naming the workers that failed while others
// serve; 503 while loading, draining or with no healthy worker),
// GET /metrics (no key; Prometheus text), GET /openapi.json, and GET / (the playground page: no key, it
// holds no data and sends the key the user types).
#include "server/json_codec.h"
#include "server/route_util.h"
#include "server/static_files.h"

namespace bge::server {
namespace {

void health(const CallPtr& call) {
    if (call->app().ready()) {
        Engine* engine = call->app().engine();
        if (!engine->degraded()) return call->reply_text(200, "application/json", "{\"status\":\"ok\"}");
        nlohmann::json down = nlohmann::json::array();
        for (const WorkerStatus& w : engine->workers()) {
            if (!w.healthy)
                down.push_back({{"model", w.model}, {"worker", w.index}, {"device", w.device}, {"error", w.error}});
        }
        return call->reply_text(200, "application/json",
                                nlohmann::json{{"status", "degraded"}, {"unhealthy_workers", down}}.dump(
                                    -1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    Engine* engine = call->app().engine();
    call->reply_error(not_ready(!engine             ? "the models are still loading"
                                : engine->healthy() ? "the server is shutting down"
                                                    : "no healthy worker"));
}

void metrics(const CallPtr& call) {
    call->reply_text(200, "text/plain; version=0.0.4; charset=utf-8", call->app().metrics_text());
}

void openapi(const CallPtr& call) {
    call->reply_text(200, "application/json", openapi_json());
}

void playground(const CallPtr& call) {
    call->reply_text(200, "text/html; charset=utf-8", playground_html());
}

}  // namespace

void add_ops_routes(App& app) {
    app.add({"GET", "/health", ApiFamily::kTei, false, false, health});
    app.add({"GET", "/metrics", ApiFamily::kOpenAi, false, false, metrics});
    app.add({"GET", "/openapi.json", ApiFamily::kOpenAi, true, false, openapi});
    app.add({"GET", "/", ApiFamily::kOpenAi, false, false, playground});
}

}  // namespace bge::server
