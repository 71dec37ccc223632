// ember: the command-line client of emberd's control API.
//
//   ember deploy ./server --name hello --port 8080 [--file SRC:DST]... [--env K=V]...
//   ember deploy --image IMG --name web [-- ARGS...]
//   ember ls | status NAME | logs NAME [-f] | invoke NAME [PATH] | scale NAME --min/--max | rm NAME
//   ember top [--once] | open
//
// Tables by default, -o json for the API's JSON. Errors are one line on
// stderr ("ember: ...") and a non-zero exit status. The HTTP client is in
// ember_client.cpp, the commands in ember_commands.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "ember_commands.h"

using namespace ember::cli;

int main(int argc, char** argv) {
    CLI::App app{"ember: deploy and run services on emberd"};
    app.set_version_flag("--version", std::string("ember ") + EMBER_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // global options may follow the subcommand: ember ls -o json
    Global g;
    if (const char* a = std::getenv("EMBER_API"); a && *a) g.api = a;
    app.add_option("--api", g.api,
                   "emberd's API URL (default http://127.0.0.1:8081, or $EMBER_API)");
    app.add_option("--token", g.token, "API token (default $EMBER_TOKEN, else DATA_DIR/token)");
    app.add_option(
        "--data-dir", g.data_dir,
        "emberd's data directory, for the token (default $EMBER_DATA_DIR, else ./var/ember, "
        "else the package's /var/lib/ember)");
    app.add_option("-o,--output", g.output, "table or json")
        ->check(CLI::IsMember({"table", "json"}));

    DeployOptions d;
    auto* deploy = app.add_subcommand(
        "deploy",
        "Upload a Linux server and deploy it as a service: ember deploy PROGRAM [options] "
        "[-- ARGS...], or ember deploy --image IMG [options] [-- ARGS...]");
    deploy->add_option("program", d.program,
                       "The x86-64 Linux executable (a dynamically linked one is uploaded with "
                       "its interpreter and libraries from this machine)");
    deploy->add_option("--image", d.image,
                       "Deploy a container image instead of PROGRAM: an OCI image layout "
                       "(directory or tar) or a `docker save` archive; its Entrypoint and Cmd "
                       "run (ARGS replace Cmd), with its Env and WorkingDir");
    deploy->add_option("--name", d.name,
                       "Service name (default: the program's or the image's file name)");
    deploy->add_option("--port", d.port,
                       "The port the program listens on (default: the image's first exposed "
                       "port, else 8080)");
    deploy->add_option("--file", d.files, "Add a file: SRC:DST (repeatable)")
        ->allow_extra_args(false);
    deploy->add_option("--env", d.env, "Environment variable K=V (repeatable)")
        ->allow_extra_args(false);
    deploy
        ->add_option("--allow-egress", d.egress,
                     "Let the program connect() to HOST:PORT (repeatable)")
        ->allow_extra_args(false);
    deploy
        ->add_option("--volume", d.volumes,
                     "Mount a volume: NAME:/PATH[:ro] (repeatable; a writable one makes the "
                     "service its one writer, with one instance)")
        ->allow_extra_args(false);
    deploy->add_option("--memory", d.memory, "Guest memory (default 64M)");
    deploy->add_option("--min", d.min, "Instances kept warm (default 0)");
    deploy->add_option("--max", d.max, "Most instances (default 16)");
    deploy->add_option("--concurrency", d.concurrency,
                       "Requests one instance serves at once (default 8)");
    deploy->add_option("--idle-timeout", d.idle_timeout,
                       "Stop an instance idle this long (default 1s)");
    deploy->add_option("--timeout", d.timeout, "Request timeout, queueing included (default 30s)");
    deploy->add_option("--queue", d.queue,
                       "Requests that may wait when all instances are busy (default 64)");
    deploy->add_option("--queue-timeout", d.queue_timeout,
                       "Longest wait in the queue (default 10s)");
    deploy
        ->add_option("--isolation", d.isolation,
                     "instance (default) or request (a fresh instance per request)")
        ->check(CLI::IsMember({"instance", "request"}));
    deploy->add_option(
        "--spare", d.spare,
        "With --isolation request: fresh instances restored ahead of requests (default 0)");
    deploy
        ->add_option("--scale-to-zero", d.scale_to_zero,
                     "What happens to an idle instance: discard (default; the next request "
                     "starts from the snapshot) or stateful (it is suspended with its memory "
                     "and the next request resumes it)")
        ->check(CLI::IsMember({"discard", "stateful"}));
    deploy->add_option("args", d.args, "Arguments for the program (after --)");

    auto* ls = app.add_subcommand("ls", "List services");
    auto* nodes =
        app.add_subcommand("nodes", "List the cluster's nodes (this one without --cluster)");
    std::string name;
    auto* status = app.add_subcommand("status", "Show a service and its instances");
    status->add_option("name", name, "Service")->required();
    bool follow = false;
    std::string instance;
    unsigned tail = 200;
    auto* logs = app.add_subcommand("logs", "Console output of a service's instances");
    logs->add_option("name", name, "Service")->required();
    logs->add_flag("-f,--follow", follow, "Keep printing new lines");
    logs->add_option("--instance", instance, "Only this instance (e.g. i-3)");
    logs->add_option("--tail", tail, "Lines of history (default 200)");
    InvokeOptions inv;
    auto* invoke =
        app.add_subcommand("invoke", "Send one HTTP request to a service through the gateway");
    invoke->add_option("name", inv.name, "Service")->required();
    invoke->add_option("path", inv.path, "Path (default /)");
    invoke->add_option("-X,--method", inv.method, "Method (default GET)");
    invoke->add_option("-d,--data", inv.data, "Request body");
    invoke->add_option("-H,--header", inv.headers, "Header 'Name: value' (repeatable)")
        ->allow_extra_args(false);
    invoke->add_flag("-v,--verbose", inv.verbose, "Print the status and headers on stderr");
    ScaleOptions sc;
    auto* scale = app.add_subcommand("scale", "Change a service's scaling without redeploying");
    scale->add_option("name", sc.name, "Service")->required();
    scale->add_option("--min", sc.min, "Instances kept warm");
    scale->add_option("--max", sc.max, "Most instances");
    scale->add_option("--concurrency", sc.concurrency, "Requests per instance");
    scale->add_option("--spare", sc.spare, "Spare fresh instances (isolation request)");
    scale->add_option("--idle-timeout", sc.idle_timeout, "Stop instances idle this long");
    scale->add_option("--timeout", sc.timeout, "Request timeout");
    scale
        ->add_option("--scale-to-zero", sc.scale_to_zero,
                     "discard or stateful (suspend idle instances with their memory)")
        ->check(CLI::IsMember({"discard", "stateful"}));
    auto* rm = app.add_subcommand("rm", "Delete a service and stop its instances");
    rm->add_option("name", name, "Service")->required();
    auto* volume = app.add_subcommand("volume", "Volumes: create, ls, rm");
    volume->require_subcommand(1);
    std::string vsize;
    auto* vcreate = volume->add_subcommand("create", "Create a volume: NAME --size 1G");
    vcreate->add_option("name", name, "Volume")->required();
    vcreate->add_option("--size", vsize, "Its quota, e.g. 1G (1M-8G)")->required();
    auto* vls = volume->add_subcommand("ls", "List volumes, their use and their services");
    auto* vrm = volume->add_subcommand("rm", "Delete a volume and its files (not while mounted)");
    vrm->add_option("name", name, "Volume")->required();
    TopOptions top_o;
    auto* top = app.add_subcommand(
        "top", "Live table of the services (requests/s, latency, cold starts, errors); q quits");
    top->add_option("--interval", top_o.interval, "Refresh interval (default 1s)");
    top->add_flag("--once", top_o.once, "Print one table (after one interval) and exit");
    bool print_only = false;
    auto* open = app.add_subcommand(
        "open", "Print the console URL (emberd's API address) and open it in a browser");
    open->add_flag("--print", print_only, "Only print the URL");

    // "deploy ... -- ARGS": everything after the first "--" belongs to the
    // program (CLI11 would take the first of them for PROGRAM when --image
    // replaces it).
    std::vector<std::string> after_dashes;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) != "deploy") continue;
        for (int k = i + 1; k < argc; ++k)
            if (std::string(argv[k]) == "--") {
                after_dashes.assign(argv + k + 1, argv + argc);
                argc = k;
                break;
            }
        break;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::fprintf(stderr, "ember: %s (see ember --help)\n", e.what());
        return kExitUsage;
    }
    try {
        if (deploy->parsed()) {
            d.args.insert(d.args.end(), after_dashes.begin(), after_dashes.end());
            return cmd_deploy(g, d);
        }
        if (ls->parsed()) return cmd_ls(g);
        if (nodes->parsed()) return cmd_nodes(g);
        if (status->parsed()) return cmd_status(g, name);
        if (logs->parsed()) return cmd_logs(g, name, follow, instance, tail);
        if (invoke->parsed()) return cmd_invoke(g, inv);
        if (scale->parsed()) return cmd_scale(g, sc);
        if (rm->parsed()) return cmd_rm(g, name);
        if (top->parsed()) return cmd_top(g, top_o);
        if (open->parsed()) return cmd_open(g, print_only);
        if (vcreate->parsed()) return cmd_volume_create(g, name, vsize);
        if (vls->parsed()) return cmd_volume_ls(g);
        if (vrm->parsed()) return cmd_volume_rm(g, name);
    } catch (const Failure& f) {
        if (!f.message.empty()) std::fprintf(stderr, "ember: %s\n", f.message.c_str());
        return f.code;
    } catch (const nlohmann::json::exception& e) {
        // A safety net: the commands check what they read from the API.
        std::fprintf(stderr, "ember: unexpected answer from the API: %s\n", e.what());
        return kExitError;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ember: %s\n", e.what());
        return kExitError;
    }
    return kExitUsage;
}
