// The application behind the transport: the route table, API-key check, readiness, request
// deadlines, the access log and the HTTP metrics. Routes live in routes_{openai,tei,cohere,m3}.cc.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bge/engine.h"
#include "core/metrics.h"
#include "server/error_mapping.h"
#include "server/http_server.h"
#include "server/json_codec.h"

namespace bge::server {

struct AppOptions {
    std::string api_key;         // "" = no key needed
    int max_client_batch = 256;  // inputs per request
    bool auto_truncate = false;  // truncate over-long inputs unless the request says otherwise
    std::chrono::milliseconds request_timeout{60'000};
    std::string embedder_id, reranker_id;  // model names shown to clients
    bool log_json = false;
};

class App;

// One request being answered. Exactly one reply goes out: a Call dropped without one answers 500.
class Call {
 public:
    Call(App& app, HttpRequest request, Reply reply, ApiFamily family, std::string route);
    ~Call();
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;

    App& app() { return app_; }
    const HttpRequest& request() const { return request_; }
    const std::string& request_id() const { return request_id_; }
    // Deadline and cancel flag of this request; truncate as asked (a missing field: --auto-truncate).
    RequestControl control(std::optional<bool> truncate) const;

    void reply_json(std::string body, int64_t inputs = 0, int64_t tokens = 0);
    void reply_text(int status, std::string content_type, std::string body);
    void reply_error(const ApiError& error);
    void reply_status(const Status& status);

 private:
    void send(HttpResponse response, int64_t inputs, int64_t tokens);
    App& app_;
    HttpRequest request_;
    Reply reply_;
    ApiFamily family_;
    std::string route_;
    std::string request_id_;
    std::chrono::steady_clock::time_point start_;
    std::atomic<bool> replied_{false};
};

using CallPtr = std::shared_ptr<Call>;
using RouteHandler = std::function<void(const CallPtr&)>;

struct Route {
    std::string method;
    std::string path;
    ApiFamily family = ApiFamily::kOpenAi;
    bool needs_key = true;     // every data route; not /health, /metrics, / (the playground page)
    bool needs_engine = true;  // 503 until the models are loaded
    RouteHandler handler;
};

class App {
 public:
    explicit App(AppOptions options);
    void add(Route route);
    // The transport's RequestHandler.
    void handle(HttpRequest request, Reply reply);

    // Set once the models are loaded and warmed up.
    void set_engine(Engine* engine) { engine_.store(engine); }
    Engine* engine() const { return engine_.load(); }
    void set_draining() { draining_ = true; }
    // Where engine callbacks hand their encoding work (the I/O threads), keeping it off the model workers.
    void set_executor(std::function<void(std::function<void()>)> post) { post_ = std::move(post); }
    void post(std::function<void()> task) const { post_ ? post_(std::move(task)) : task(); }
    bool ready() const { return engine() && !draining_ && engine()->healthy(); }
    const AppOptions& options() const { return options_; }
    const std::vector<Route>& routes() const { return routes_; }

    // HTTP metrics plus the engine's, Prometheus text.
    std::string metrics_text() const;
    // One access-log line (text or JSON) on stderr.
    void log_access(const HttpRequest& request, const std::string& route, int status, int64_t inputs, int64_t tokens,
                    double seconds, const std::string& request_id) const;

 private:
    friend class Call;
    AppOptions options_;
    std::vector<Route> routes_;
    std::atomic<Engine*> engine_{nullptr};
    std::atomic<bool> draining_{false};
    std::function<void(std::function<void()>)> post_;
    CounterFamily requests_{"bge_http_requests_total", "HTTP requests by route and status"};
    Histogram latency_{"bge_request_duration_seconds", "Time from a request's arrival to its answer",
                       Histogram::latency_bounds()};
    CounterFamily inputs_{"bge_http_inputs_total", "Inputs received, by route"};
};

// Route tables.
void add_openai_routes(App& app);
void add_tei_routes(App& app);
void add_cohere_routes(App& app);
void add_m3_routes(App& app);
void add_ops_routes(App& app);  // /health, /metrics, /openapi.json, /
// Every route above: what bge serve serves.
void add_all_routes(App& app);

// True when `header` is exactly "Bearer <key>"; the comparison takes the same time wherever they differ.
bool bearer_matches(std::string_view header, std::string_view key);

}  // namespace bge::server
