#include "server/app.h"

#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

namespace bge::server {
namespace {

// 16 hex digits, unique per process run with overwhelming probability.
std::string new_request_id() {
    static std::mutex mutex;
    static std::mt19937_64 rng{std::random_device{}()};
    uint64_t v;
    {
        std::lock_guard lock(mutex);
        v = rng();
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// A client-sent id is echoed if it is short printable ASCII; anything else is replaced.
bool usable_request_id(const std::string& id) {
    if (id.empty() || id.size() > 128) return false;
    for (unsigned char c : id) {
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
    }
    return true;
}

std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

bool bearer_matches(std::string_view header, std::string_view key) {
    constexpr std::string_view kPrefix = "Bearer ";
    // Compare over the key's length whatever the header holds, so timing reveals nothing of the key.
    unsigned diff = header.size() == kPrefix.size() + key.size() ? 0u : 1u;
    for (size_t i = 0; i < kPrefix.size() + key.size(); ++i) {
        const unsigned char want = i < kPrefix.size() ? kPrefix[i] : key[i - kPrefix.size()];
        const unsigned char got = i < header.size() ? header[i] : 0;
        diff |= static_cast<unsigned>(want ^ got);
    }
    return diff == 0 && !key.empty();
}

Call::Call(App& app, HttpRequest request, Reply reply, ApiFamily family, std::string route)
    : app_(app),
      request_(std::move(request)),
      reply_(std::move(reply)),
      family_(family),
      route_(std::move(route)),
      start_(std::chrono::steady_clock::now()) {
    request_id_ = usable_request_id(request_.request_id) ? request_.request_id : new_request_id();
}

Call::~Call() {
    if (!replied_) reply_error(error_from_status(internal_error("the route gave no answer")));
}

RequestControl Call::control(std::optional<bool> truncate) const {
    RequestControl c;
    c.deadline = start_ + app_.options().request_timeout;
    c.cancel = request_.cancel;
    c.truncate = truncate.value_or(app_.options().auto_truncate);
    return c;
}

void Call::send(HttpResponse response, int64_t inputs, int64_t tokens) {
    if (replied_.exchange(true)) return;
    response.request_id = request_id_;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    app_.requests_.add("route=\"" + label_value(route_) + "\",status=\"" + std::to_string(response.status) + "\"");
    app_.latency_.observe(seconds);
    if (inputs > 0) app_.inputs_.add("route=\"" + label_value(route_) + "\"", static_cast<double>(inputs));
    app_.log_access(request_, route_, response.status, inputs, tokens, seconds, request_id_);
    reply_(std::move(response));
}

void Call::reply_json(std::string body, int64_t inputs, int64_t tokens) {
    HttpResponse r;
    r.body = std::move(body);
    send(std::move(r), inputs, tokens);
}

void Call::reply_text(int status, std::string content_type, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    send(std::move(r), 0, 0);
}

void Call::reply_error(const ApiError& error) {
    HttpResponse r;
    r.status = error.http_status;
    r.body = error_body(error, family_);
    r.retry_after_s = error.retry_after_s;
    send(std::move(r), 0, 0);
}

void Call::reply_status(const Status& status) {
    Engine* engine = app_.engine();
    reply_error(error_from_status(status, engine && engine->healthy()));
}

void add_all_routes(App& app) {
    add_ops_routes(app);
    add_openai_routes(app);
    add_tei_routes(app);
    add_cohere_routes(app);
    add_m3_routes(app);
}

App::App(AppOptions options) : options_(std::move(options)) {}

void App::add(Route route) {
    routes_.push_back(std::move(route));
}

void App::handle(HttpRequest request, Reply reply) {
    const Route* route = nullptr;
    bool path_known = false;
    for (const Route& r : routes_) {
        if (r.path != request.path) continue;
        path_known = true;
        if (r.method == request.method) route = &r;
    }
    const ApiFamily family = route ? route->family : ApiFamily::kOpenAi;
    auto call = std::make_shared<Call>(*this, std::move(request), std::move(reply), family,
                                       route        ? route->path
                                       : path_known ? request.path
                                                    : "unmatched");
    const HttpRequest& req = call->request();
    if (req.error) return call->reply_error(*req.error);
    if (!route) {
        return call->reply_error(path_known ? method_not_allowed(req.method, req.path) : not_found_route(req.path));
    }
    if (route->needs_key && !options_.api_key.empty() && !bearer_matches(req.authorization, options_.api_key)) {
        return call->reply_error(unauthorized());
    }
    if (route->needs_engine) {
        if (draining_) return call->reply_error(not_ready("the server is shutting down"));
        if (!engine()) return call->reply_error(not_ready("the models are still loading"));
    }
    route->handler(call);
}

std::string App::metrics_text() const {
    std::string out;
    requests_.append_prometheus(out);
    inputs_.append_prometheus(out);
    latency_.append_prometheus(out);
    if (Engine* e = engine()) out += e->metrics_text();
    return out;
}

void App::log_access(const HttpRequest& request, const std::string& route, int status, int64_t inputs, int64_t tokens,
                     double seconds, const std::string& request_id) const {
    char when[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string line;
    if (options_.log_json) {
        JsonWriter w;
        w.begin_object().key("time").value(when).key("method").value(request.method).key("path").value(request.path);
        w.key("route").value(route).key("status").value(status).key("inputs").value(inputs);
        w.key("tokens").value(tokens).key("latency_ms").value(seconds * 1e3).key("request_id").value(request_id);
        line = w.end_object().take();
    } else {
        char buf[96];
        std::snprintf(buf, sizeof buf, " %d inputs=%lld tokens=%lld %.2fms id=", status, static_cast<long long>(inputs),
                      static_cast<long long>(tokens), seconds * 1e3);
        // The path is the client's: print it as JSON so nothing in it can forge a line.
        line = std::string(when) + " " + request.method + " " +
               Json(request.path).dump(-1, ' ', false, Json::error_handler_t::replace) + buf + request_id;
    }
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace bge::server
