// api.h - the control API's request handling, independent of the HTTP
// server (api_server.cpp): a parsed request in, a response out. Every
// error is a JSON body {"error": {"code": ..., "message": ...}}.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "platform/http_error.h"
#include "platform/image_store.h"
#include "platform/instance_manager.h"
#include "platform/log_hub.h"
#include "platform/metrics.h"
#include "platform/service_controller.h"
#include "platform/service_stats.h"
#include "platform/store.h"
#include "platform/volume_store.h"

namespace ember::platform {

struct ApiRequest {
    std::string method;  // "GET", ...
    std::string target;  // path and query, e.g. "/v1/services?x=1"
    std::string authorization;
    std::string content_type;
    std::string body;
};

struct ApiResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    // GET /v1/services/{name}/logs?follow=true: after body, the server
    // streams the service's new log lines (LogHub::read after follow_after).
    bool follow = false;
    std::string follow_service, follow_instance;
    uint64_t follow_after = 0;
};

struct ApiInfo {
    std::string version;
    std::string gateway;  // "127.0.0.1:8080"
    std::string domain;   // "localhost"
    uint64_t max_image_bytes = 256ull << 20;
    uint64_t max_json_bytes = 1ull << 20;
    // How often the server samples the services' time series (ServiceStats).
    int64_t stats_interval_ms = 10000;
    int64_t stats_retention_ms = 3600000;  // an hour of points per service
};

// Cluster mode (emberd --cluster): the node's name, the cluster token that
// node-to-node calls (/v1/cluster/...) carry instead of the API token, and
// the members for GET /v1/nodes (api_cluster.cpp).
struct ClusterApi {
    std::string node;
    std::string token;
    std::function<nlohmann::json()> nodes;
    // The service's instances on the other live nodes (GET
    // /v1/cluster/instances/<name> on each), each with its "node".
    std::function<nlohmann::json(const std::string& service)> peer_instances;
};

class Api {
  public:
    Api(ApiInfo info, std::string token, StateStore& store, ImageStore& images,
        ServiceController& controller, InstanceManager& manager, Metrics& metrics, LogHub& logs)
        : info_(std::move(info)),
          token_(std::move(token)),
          store_(store),
          images_(images),
          controller_(controller),
          manager_(manager),
          metrics_(metrics),
          logs_(logs),
          stats_(static_cast<size_t>(std::max<int64_t>(
              1, info_.stats_retention_ms / std::max<int64_t>(1, info_.stats_interval_ms)))) {}

    void set_cluster(ClusterApi c) { cluster_ = std::move(c); }
    // Checks only the token: the server calls it before reading a body.
    bool authorized(const std::string& authorization) const;
    // The cluster token only (node-to-node calls); false on a single node.
    bool node_authorized(const std::string& authorization) const;
    // The console's static files need no token (console.h).
    static bool is_public(const std::string& method, const std::string& target);
    // The largest body accepted for this method and path.
    uint64_t body_limit(const std::string& method, const std::string& target) const;
    // Handles one request; may block (deploys boot a microVM).
    ApiResponse handle(const ApiRequest& req);
    // Takes one sample of every service's counters into the time series;
    // the server calls it every info.stats_interval_ms.
    void sample_stats();
    // Notes each service's instance count, so that a point shows the most
    // instances of its interval (they may live for a second); the server
    // calls it every second.
    void observe_instances();
    int64_t stats_interval_ms() const { return info_.stats_interval_ms; }
    // Volumes (/v1/volumes, api_volumes.cpp); without them a spec with
    // volumes is refused.
    void set_volumes(VolumeStore* v) { volumes_ = v; }
    // One log line as the API prints it.
    static std::string format_log_line(const LogRecord& r);

    // A failed operation: the status and code come from s.code().
    static ApiResponse error(const Status& s);
    // A failure of the HTTP exchange (http_error.h).
    static ApiResponse error(HttpError e, const std::string& message);

  private:
    ApiResponse dispatch(const ApiRequest& req);
    ApiResponse route(const ApiRequest& req, const std::string& path, const std::string& query);
    ApiResponse images(const ApiRequest& req, const std::vector<std::string>& parts);
    ApiResponse services(const ApiRequest& req, const std::vector<std::string>& parts,
                         const std::string& query);
    ApiResponse logs(const std::string& name, const std::string& query);
    nlohmann::json service_json(const std::string& name);
    ApiResponse stats();
    ApiResponse volumes(const ApiRequest& req, const std::vector<std::string>& parts);
    Status check_volumes(const ServiceSpec& spec);
    ApiResponse service_stats(const std::string& name, const std::string& query);
    // api_cluster.cpp: GET /v1/nodes, and the node-to-node calls.
    ApiResponse nodes(const ApiRequest& req);
    ApiResponse cluster_call(const ApiRequest& req, const std::vector<std::string>& parts);
    bool is_node_call(const ApiRequest& req) const;
    // Cluster mode: tags this node's instances with its name and adds the
    // other nodes' (ember status shows which node runs what).
    void add_cluster_instances(const std::string& service, nlohmann::json* arr);

    ApiInfo info_;
    std::string token_;
    StateStore& store_;
    ImageStore& images_;
    ServiceController& controller_;
    InstanceManager& manager_;
    Metrics& metrics_;
    LogHub& logs_;
    ClusterApi cluster_;
    ServiceStats stats_;
    std::mutex peak_mu_;
    // Held from a deploy's volume check to its record being stored, and by
    // a volume's removal: two deploys claiming one volume as writer (or a
    // removal racing a deploy) cannot both pass the check (handlers run on
    // a thread pool).
    std::mutex volume_claims_;
    std::map<std::string, int> peak_instances_;  // since the last sample
    VolumeStore* volumes_ = nullptr;
};

// The Prometheus text with a node="<node>" label on every sample (a
// cluster node's /metrics; api_cluster.cpp).
std::string add_node_label(const std::string& text, const std::string& node);

// The value of key in a query string ("a=1&b=2"), percent-decoded; "" when absent.
std::string query_param(const std::string& query, const std::string& key);

}  // namespace ember::platform
