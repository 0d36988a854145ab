// dnsctl: dnsd from the terminal and from scripts. Every command is a call to a dnsd (or Nacos)
// server's HTTP Open API, or (lookup) a DNS query to its DNS port; --output json gives what
// scripts parse. Exit codes: 0 done; 1 the server refused or has no such thing; 2 bad usage;
// 3 the server could not be reached.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "CLI/CLI.hpp"
#include "common/crypto.h"
#include "common/files.h"
#include "common/socket_address.h"
#include "common/strings.h"
#include "ctl/nacos_http.h"
#include "ctl/table.h"
#include "ctl/zip.h"
#include "dnsd/dns_lookup.h"

namespace {

using dnsd::common::StrCat;
using dnsd::ctl::Cell;
using dnsd::ctl::NacosHttp;
using dnsd::ctl::Params;
using dnsd::ctl::Table;

enum ExitCode { kOk = 0, kRefused = 1, kUsage = 2, kUnreachable = 3 };

struct Global {
  dnsd::ctl::ServerOptions server;
  std::string namespace_id = "public";
  std::string group = "DEFAULT_GROUP";
  std::string output = "table";
  std::string dns_server = "127.0.0.1:53";
};

int ExitFor(const absl::Status& s) {
  if (s.ok()) return kOk;
  std::cerr << "dnsctl: " << dnsd::common::ToStd(s.message()) << std::endl;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
      return kUnreachable;
    case absl::StatusCode::kInvalidArgument:
      return kUsage;
    default:
      return kRefused;
  }
}

// The table, or with --output json what the server answered (`raw`, when given: its own
// field names and types), else the table's rows as objects.
void Print(const Global& g, const Table& table, const Json::Value* raw = nullptr) {
  if (g.output == "json") {
    std::cout << dnsd::ctl::ToJson(raw ? *raw : table.ToJson()) << std::endl;
  } else {
    std::cout << table.ToText();
  }
}

// ---------------------------------------------------------------- services and instances

absl::Status ServiceList(const Global& g, NacosHttp& http, int page, int size) {
  auto data = http.CallV2("GET", "/nacos/v2/ns/service/list",
                          {{"namespaceId", g.namespace_id},
                           {"groupName", g.group},
                           {"pageNo", std::to_string(page)},
                           {"pageSize", std::to_string(size)}});
  if (!data.ok()) return data.status();
  Table table{{"service", "group"}, {}};
  for (const auto& name : (*data)["services"]) table.Add({Cell(name), g.group});
  Print(g, table, &*data);
  if (g.output != "json") {
    std::cout << (*data)["count"].asInt64() << " services in " << g.namespace_id << "/" << g.group
              << std::endl;
  }
  return absl::OkStatus();
}

absl::Status ServiceGet(const Global& g, NacosHttp& http, const std::string& name) {
  auto data =
      http.CallV2("GET", "/nacos/v2/ns/service",
                  {{"namespaceId", g.namespace_id}, {"groupName", g.group}, {"serviceName", name}});
  if (!data.ok()) return data.status();
  if (g.output == "json") {
    std::cout << dnsd::ctl::ToJson(*data) << std::endl;
    return absl::OkStatus();
  }
  Table table{{"field", "value"}, {}};
  for (const auto& key : data->getMemberNames()) table.Add({key, Cell((*data)[key])});
  Print(g, table);
  return absl::OkStatus();
}

absl::Status InstanceList(const Global& g, NacosHttp& http, const std::string& name,
                          bool healthy_only) {
  auto data = http.CallV2("GET", "/nacos/v2/ns/instance/list",
                          {{"namespaceId", g.namespace_id},
                           {"groupName", g.group},
                           {"serviceName", name},
                           {"healthyOnly", healthy_only ? "true" : "false"}});
  if (!data.ok()) return data.status();
  Table table{{"ip", "port", "weight", "healthy", "enabled", "ephemeral", "cluster", "metadata"},
              {}};
  for (const auto& h : (*data)["hosts"]) {
    table.Add({Cell(h["ip"]), Cell(h["port"]), Cell(h["weight"]), Cell(h["healthy"]),
               Cell(h["enabled"]), Cell(h["ephemeral"]), Cell(h["clusterName"]),
               Cell(h["metadata"])});
  }
  Print(g, table, &(*data)["hosts"]);
  return absl::OkStatus();
}

struct InstanceArgs {
  std::string service, ip, cluster = "DEFAULT";
  int port = 0;
  double weight = 1.0;
  bool persistent = false, disabled = false;
  std::vector<std::string> metadata;  // key=value
};

absl::StatusOr<std::string> MetadataJson(const std::vector<std::string>& pairs) {
  Json::Value object(Json::objectValue);
  for (const auto& pair : pairs) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError("--metadata takes key=value, got " + pair);
    }
    object[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return dnsd::ctl::ToJson(object, false);
}

Params InstanceParams(const Global& g, const InstanceArgs& a) {
  return {{"namespaceId", g.namespace_id},
          {"groupName", g.group},
          {"serviceName", a.service},
          {"ip", a.ip},
          {"port", std::to_string(a.port)},
          {"clusterName", a.cluster},
          {"ephemeral", a.persistent ? "false" : "true"}};
}

absl::Status InstanceRegister(const Global& g, NacosHttp& http, const InstanceArgs& a) {
  auto metadata = MetadataJson(a.metadata);
  if (!metadata.ok()) return metadata.status();
  Params params = InstanceParams(g, a);
  params.emplace_back("weight", StrCat(a.weight));
  params.emplace_back("enabled", a.disabled ? "false" : "true");
  params.emplace_back("metadata", *metadata);
  auto data = http.CallV2("POST", "/nacos/v2/ns/instance", params);
  if (!data.ok()) return data.status();
  std::cout << "registered " << a.ip << ":" << a.port << " in " << a.service
            << (a.persistent ? " (persistent)" : " (ephemeral: send beats to keep it)")
            << std::endl;
  return absl::OkStatus();
}

absl::Status InstanceDeregister(const Global& g, NacosHttp& http, const InstanceArgs& a) {
  auto data = http.CallV2("DELETE", "/nacos/v2/ns/instance", InstanceParams(g, a));
  if (!data.ok()) return data.status();
  std::cout << "deregistered " << a.ip << ":" << a.port << " from " << a.service << std::endl;
  return absl::OkStatus();
}

absl::Status InstanceBeat(const Global& g, NacosHttp& http, const InstanceArgs& a) {
  Json::Value beat(Json::objectValue);
  beat["ip"] = a.ip;
  beat["port"] = a.port;
  beat["cluster"] = a.cluster;
  beat["serviceName"] = StrCat(g.group, "@@", a.service);
  beat["weight"] = a.weight;
  auto body = http.Call("PUT", "/nacos/v1/ns/instance/beat",
                        {{"namespaceId", g.namespace_id},
                         {"serviceName", StrCat(g.group, "@@", a.service)},
                         {"beat", dnsd::ctl::ToJson(beat, false)}});
  if (!body.ok()) return body.status();
  auto parsed = dnsd::ctl::ParseJson(*body);
  const int code = parsed.ok() ? (*parsed)["code"].asInt() : 0;
  // Nacos answers 20404 when the instance is unknown (a beat re-registers it when it carries
  // the instance, as this one does).
  std::cout << "beat sent (code " << code << ", next in "
            << (parsed.ok() ? (*parsed)["clientBeatInterval"].asInt64() : 0) << " ms)" << std::endl;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- DNS lookup

absl::Status Lookup(const Global& g, const std::string& name, const std::string& type_name,
                    bool tcp) {
  dnsd::dns::LookupRequest request;
  auto server = dnsd::common::SocketAddress::FromHostPort(g.dns_server, 53);
  if (!server.ok()) return absl::InvalidArgumentError("--dns takes ip[:port] or [ipv6]:port");
  request.server_ip = server->ip();
  request.port = server->port();
  request.name = name;
  request.type = type_name;
  request.tcp = tcp;
  auto answer = dnsd::dns::LookupJson(request);
  if (!answer.ok()) {
    if (absl::IsUnavailable(answer.status())) {
      return absl::UnavailableError(
          StrCat(dnsd::common::ToStd(answer.status().message()), " (is dnsd's DNS there?)"));
    }
    return answer.status();
  }
  if (g.output == "json") {
    std::cout << dnsd::ctl::ToJson(*answer) << std::endl;
    return absl::OkStatus();
  }
  auto table = [](const Json::Value& records) {
    Table t{{"name", "ttl", "class", "type", "data"}, {}};
    for (const auto& r : records) {
      t.Add({Cell(r["name"]), Cell(r["ttl"]), Cell(r["class"]), Cell(r["type"]), Cell(r["data"])});
    }
    return t;
  };
  const Json::Value& a = *answer;
  std::cout << ";; " << a["question"].asString() << ": " << a["status"].asString()
            << (a["authoritative"].asBool() ? ", authoritative" : "") << std::endl;
  for (const auto& e : a["ede"]) {
    std::cout << ";; EDE " << e["code"].asInt() << ": " << e["text"].asString() << std::endl;
  }
  if (!a["answer"].empty()) std::cout << table(a["answer"]).ToText();
  if (!a["authority"].empty()) std::cout << ";; authority\n" << table(a["authority"]).ToText();
  return absl::OkStatus();
}

// ---------------------------------------------------------------- configs

Params ConfigParams(const Global& g, const std::string& data_id) {
  return {{"namespaceId", g.namespace_id == "public" ? "" : g.namespace_id},
          {"group", g.group},
          {"dataId", data_id}};
}

absl::StatusOr<std::string> ConfigContent(const Global& g, NacosHttp& http,
                                          const std::string& data_id) {
  auto data = http.CallV2("GET", "/nacos/v2/cs/config", ConfigParams(g, data_id));
  if (!data.ok()) return data.status();
  return data->asString();
}

absl::Status ConfigGet(const Global& g, NacosHttp& http, const std::string& data_id) {
  auto content = ConfigContent(g, http, data_id);
  if (!content.ok()) return content.status();
  if (g.output == "json") {
    Json::Value out(Json::objectValue);
    out["dataId"] = data_id;
    out["group"] = g.group;
    out["namespace"] = g.namespace_id;
    out["content"] = *content;
    out["md5"] = dnsd::common::HexLower(dnsd::common::Md5Digest(*content));
    std::cout << dnsd::ctl::ToJson(out) << std::endl;
  } else {
    std::cout << *content;
    if (!content->empty() && content->back() != '\n') std::cout << std::endl;
  }
  return absl::OkStatus();
}

absl::Status ConfigSet(const Global& g, NacosHttp& http, const std::string& data_id,
                       std::string content, const std::string& file, const std::string& type) {
  if (!file.empty()) {
    auto text = dnsd::common::ReadFileToString(file == "-" ? "/dev/stdin" : file, "--file");
    if (!text.ok()) return text.status();
    content = *std::move(text);
  }
  if (content.empty()) return absl::InvalidArgumentError("give --content or --file (- for stdin)");
  Params params = ConfigParams(g, data_id);
  params.emplace_back("content", content);
  if (!type.empty()) params.emplace_back("type", type);
  auto data = http.CallV2("POST", "/nacos/v2/cs/config", params);
  if (!data.ok()) return data.status();
  std::cout << "published " << data_id << " (" << content.size() << " bytes, md5 "
            << dnsd::common::HexLower(dnsd::common::Md5Digest(content)) << ")" << std::endl;
  return absl::OkStatus();
}

absl::Status ConfigDelete(const Global& g, NacosHttp& http, const std::string& data_id) {
  auto data = http.CallV2("DELETE", "/nacos/v2/cs/config", ConfigParams(g, data_id));
  if (!data.ok()) return data.status();
  std::cout << "deleted " << data_id << std::endl;
  return absl::OkStatus();
}

absl::Status ConfigHistory(const Global& g, NacosHttp& http, const std::string& data_id, int size) {
  Params params = ConfigParams(g, data_id);
  params.emplace_back("pageNo", "1");
  params.emplace_back("pageSize", std::to_string(size));
  auto data = http.CallV2("GET", "/nacos/v2/cs/history/list", params);
  if (!data.ok()) return data.status();
  Table table{{"id", "time", "op", "user", "from", "md5"}, {}};
  for (const auto& h : (*data)["pageItems"]) {
    table.Add({Cell(h["id"]), Cell(h["lastModifiedTime"]), Cell(h["opType"]), Cell(h["srcUser"]),
               Cell(h["srcIp"]), Cell(h["md5"])});
  }
  Print(g, table, &(*data)["pageItems"]);
  return absl::OkStatus();
}

// Long polls until `count` changes were seen (0: for ever), printing each new content.
absl::Status ConfigWatch(const Global& g, NacosHttp& http, const std::string& data_id, int count) {
  auto current = ConfigContent(g, http, data_id);
  if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
  std::string md5 =
      current.ok() ? dnsd::common::HexLower(dnsd::common::Md5Digest(*current)) : std::string();
  const std::string tenant = g.namespace_id == "public" ? "" : g.namespace_id;
  std::cout << "watching " << data_id << " (md5 " << (md5.empty() ? "-" : md5) << ")" << std::endl;
  for (int seen = 0; count == 0 || seen < count;) {
    const std::string listening =
        StrCat(data_id, "\x02", g.group, "\x02", md5, tenant.empty() ? "" : "\x02", tenant, "\x01");
    auto changed =
        http.Call("POST", "/nacos/v1/cs/configs/listener", {{"Listening-Configs", listening}},
                  40'000, {{"Long-Pulling-Timeout", "30000"}});
    if (!changed.ok()) return changed.status();
    if (dnsd::common::Trim(*changed).empty()) continue;  // the hold time passed unchanged
    auto content = ConfigContent(g, http, data_id);
    ++seen;
    if (!content.ok()) {
      if (!absl::IsNotFound(content.status())) return content.status();
      md5.clear();
      std::cout << "--- " << data_id << " deleted" << std::endl;
      continue;
    }
    md5 = dnsd::common::HexLower(dnsd::common::Md5Digest(*content));
    std::cout << "--- " << data_id << " changed (md5 " << md5 << ")\n" << *content;
    if (!content->empty() && content->back() != '\n') std::cout << "\n";
    std::cout << std::flush;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- export and import (Nacos's zip)

// "[#####.....] 5/10" on stderr when it is a terminal (scripts get only the summary).
void Progress(std::string_view what, size_t done, size_t total) {
  if (!isatty(STDERR_FILENO) || total == 0) return;
  const size_t filled = done * 30 / total;
  std::cerr << "\r" << what << " [" << std::string(filled, '#') << std::string(30 - filled, '.')
            << "] " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
}

absl::Status ConfigExport(const Global& g, NacosHttp& http, const std::string& file) {
  std::vector<Json::Value> configs;
  for (int page = 1;; ++page) {
    auto body = http.Call("GET", "/nacos/v1/cs/configs",
                          {{"search", "blur"},
                           {"dataId", ""},
                           {"group", ""},
                           {"tenant", g.namespace_id == "public" ? "" : g.namespace_id},
                           {"pageNo", std::to_string(page)},
                           {"pageSize", "200"}});
    if (!body.ok()) return body.status();
    auto parsed = dnsd::ctl::ParseJson(*body);
    if (!parsed.ok()) return parsed.status();
    for (const auto& item : (*parsed)["pageItems"]) configs.push_back(item);
    Progress("reading", configs.size(), (*parsed)["totalCount"].asUInt64());
    if (page >= (*parsed)["pagesAvailable"].asInt()) break;
  }
  std::vector<dnsd::ctl::ZipEntry> entries;
  std::string metadata = "metadata:\n";
  for (const auto& c : configs) {
    entries.push_back(
        {StrCat(c["group"].asString(), "/", c["dataId"].asString()), c["content"].asString()});
    metadata += StrCat("- dataId: ", c["dataId"].asString(), "\n  group: ", c["group"].asString(),
                       "\n  type: ", c["type"].isString() ? c["type"].asString() : "text", "\n");
    if (c["appName"].isString() && !c["appName"].asString().empty()) {
      metadata += StrCat("  appName: ", c["appName"].asString(), "\n");
    }
  }
  entries.push_back({".metadata.yml", metadata});
  std::ofstream out(file, std::ios::binary);
  const std::string zip = dnsd::ctl::WriteZip(entries);
  if (!out.write(zip.data(), static_cast<std::streamsize>(zip.size()))) {
    return absl::InvalidArgumentError("cannot write " + file);
  }
  std::cout << "exported " << configs.size() << " configs of " << g.namespace_id << " to " << file
            << std::endl;
  return absl::OkStatus();
}

absl::Status ConfigImport(const Global& g, NacosHttp& http, const std::string& file,
                          const std::string& policy) {
  auto bytes = dnsd::common::ReadFileToString(file, "the archive");
  if (!bytes.ok()) return bytes.status();
  auto entries = dnsd::ctl::ReadZip(*bytes);
  if (!entries.ok()) return entries.status();
  // Types from the metadata file (Nacos 2.x's .metadata.yml: a list of dataId/group/type).
  std::map<std::string, std::string> types;
  std::string data_id, group;
  for (const auto& e : *entries) {
    if (e.name != ".metadata.yml") continue;
    for (std::string_view line : dnsd::common::Split(e.data, '\n')) {
      std::string_view text = dnsd::common::Trim(line);
      if (text.starts_with("- ")) text.remove_prefix(2);
      const size_t colon = text.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string_view key = text.substr(0, colon);
      const std::string value(dnsd::common::Trim(text.substr(colon + 1)));
      if (key == "dataId") data_id = value;
      if (key == "group") group = value;
      if (key == "type") types[group + "/" + data_id] = value;
    }
  }
  std::vector<std::pair<std::string, std::string>> configs;  // (group, dataId) per entry
  std::vector<const dnsd::ctl::ZipEntry*> contents;
  for (const auto& e : *entries) {
    if (e.name.starts_with('.') || e.name.find('/') == std::string::npos) continue;
    const size_t slash = e.name.find('/');
    configs.emplace_back(e.name.substr(0, slash), e.name.substr(slash + 1));
    contents.push_back(&e);
  }
  const std::string tenant = g.namespace_id == "public" ? "" : g.namespace_id;
  auto exists = [&](const std::pair<std::string, std::string>& c) -> absl::StatusOr<bool> {
    auto body = http.Call("GET", "/nacos/v1/cs/configs",
                          {{"dataId", c.second}, {"group", c.first}, {"tenant", tenant}});
    if (body.ok()) return true;
    if (absl::IsNotFound(body.status())) return false;
    return body.status();
  };
  std::vector<bool> present(configs.size(), false);
  for (size_t i = 0; i < configs.size() && policy != "overwrite"; ++i) {
    auto found = exists(configs[i]);
    if (!found.ok()) return found.status();
    present[i] = *found;
    Progress("checking", i + 1, configs.size());
  }
  if (policy == "abort") {
    std::string clashes;
    for (size_t i = 0; i < configs.size(); ++i) {
      if (present[i])
        clashes += StrCat(clashes.empty() ? "" : ", ", configs[i].first, "/", configs[i].second);
    }
    if (!clashes.empty()) {
      return absl::FailedPreconditionError(
          "nothing imported: these configs exist already (use --policy skip or overwrite): " +
          clashes);
    }
  }
  size_t imported = 0, skipped = 0;
  for (size_t i = 0; i < configs.size(); ++i) {
    if (present[i]) {
      ++skipped;
    } else {
      const auto type = types.find(configs[i].first + "/" + configs[i].second);
      auto published = http.Call("POST", "/nacos/v1/cs/configs",
                                 {{"dataId", configs[i].second},
                                  {"group", configs[i].first},
                                  {"tenant", tenant},
                                  {"content", contents[i]->data},
                                  {"type", type == types.end() ? "text" : type->second}});
      if (!published.ok()) {
        return absl::FailedPreconditionError(
            StrCat("imported ", imported, " before ", configs[i].first, "/", configs[i].second,
                   " failed: ", dnsd::common::ToStd(published.status().message())));
      }
      ++imported;
    }
    Progress("importing", i + 1, configs.size());
  }
  std::cout << "imported " << imported << " configs into " << g.namespace_id << ", skipped "
            << skipped << std::endl;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- namespaces and cluster

absl::Status NamespaceList(const Global& g, NacosHttp& http) {
  auto data = http.CallV2("GET", "/nacos/v2/console/namespace/list", {});
  if (!data.ok()) return data.status();
  Table table{{"id", "name", "description", "configs"}, {}};
  for (const auto& ns : *data) {
    const std::string id = Cell(ns["namespace"]);
    table.Add({id.empty() ? "public" : id, Cell(ns["namespaceShowName"]), Cell(ns["namespaceDesc"]),
               Cell(ns["configCount"])});
  }
  Print(g, table);
  return absl::OkStatus();
}

absl::Status NamespaceCreate(NacosHttp& http, const std::string& id, std::string name,
                             const std::string& description) {
  if (name.empty()) name = id;
  auto data =
      http.CallV2("POST", "/nacos/v2/console/namespace",
                  {{"namespaceId", id}, {"namespaceName", name}, {"namespaceDesc", description}});
  if (!data.ok()) return data.status();
  std::cout << "created namespace " << id << std::endl;
  return absl::OkStatus();
}

absl::Status NamespaceDelete(NacosHttp& http, const std::string& id) {
  auto data = http.CallV2("DELETE", "/nacos/v2/console/namespace", {{"namespaceId", id}});
  if (!data.ok()) return data.status();
  if (data->isBool() && !data->asBool()) {
    return absl::FailedPreconditionError("the server did not delete namespace " + id);
  }
  std::cout << "deleted namespace " << id << std::endl;
  return absl::OkStatus();
}

absl::Status ClusterStatus(const Global& g, NacosHttp& http) {
  auto body = http.Call("GET", "/nacos/v1/core/cluster/nodes", {});
  if (!body.ok()) return body.status();
  auto parsed = dnsd::ctl::ParseJson(*body);
  if (!parsed.ok()) return parsed.status();
  Table table{{"address", "state", "raft_role", "raft_term", "raft_leader", "applied"}, {}};
  for (const auto& node : (*parsed)["data"]) {
    const Json::Value& extend = node["extendInfo"];
    const Json::Value& cp = extend["raftMetaData"]["metaDataMap"]["dnsd_cp"];
    table.Add({Cell(node["address"]), Cell(node["state"]), Cell(extend["raftRole"]),
               Cell(cp["term"]), Cell(cp["leader"]), Cell(extend["raftAppliedIndex"])});
  }
  Print(g, table);
  return absl::OkStatus();
}

constexpr char kBashCompletion[] = R"(# bash completion for dnsctl: source it, or install it as
# /usr/share/bash-completion/completions/dnsctl
_dnsctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} words="${COMP_WORDS[*]}"
  local options="--server --namespace --group --output --username --password --token --cacert --dns --timeout-ms --help"
  case "$COMP_CWORD:${COMP_WORDS[COMP_CWORD-1]}" in
    *:--output) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
  esac
  if [[ $words == *" service "* ]]; then COMPREPLY=($(compgen -W "list get $options" -- "$cur"))
  elif [[ $words == *" instance "* ]]; then COMPREPLY=($(compgen -W "list register deregister beat --weight --cluster --persistent --metadata --disabled --healthy-only $options" -- "$cur"))
  elif [[ $words == *" config "* ]]; then COMPREPLY=($(compgen -W "get set delete history watch export import --content --file --type --count --size --policy $options" -- "$cur"))
  elif [[ $words == *" namespace "* ]]; then COMPREPLY=($(compgen -W "list create delete --name --description $options" -- "$cur"))
  elif [[ $words == *" cluster "* ]]; then COMPREPLY=($(compgen -W "status $options" -- "$cur"))
  elif [[ $words == *" lookup "* ]]; then COMPREPLY=($(compgen -W "A AAAA SRV TXT SOA NS CNAME --tcp $options" -- "$cur"))
  else COMPREPLY=($(compgen -W "service instance lookup config namespace cluster completion $options" -- "$cur"))
  fi
}
complete -F _dnsctl dnsctl
)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dnsctl: manage a dnsd (or Nacos) server from the terminal"};
  app.require_subcommand(1);
  Global g;
  if (const char* env = std::getenv("DNSD_SERVER")) g.server.server = env;
  if (const char* env = std::getenv("DNSD_USERNAME")) g.server.username = env;
  if (const char* env = std::getenv("DNSD_PASSWORD")) g.server.password = env;
  if (const char* env = std::getenv("DNSD_TOKEN")) g.server.token = env;
  app.add_option("--server", g.server.server, "HTTP address of the server (env DNSD_SERVER)")
      ->capture_default_str();
  app.add_option("--namespace", g.namespace_id, "namespace id")->capture_default_str();
  app.add_option("--group", g.group, "group")->capture_default_str();
  app.add_option("--output,-o", g.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--username", g.server.username, "log in as this user (env DNSD_USERNAME)");
  app.add_option("--password", g.server.password, "their password (env DNSD_PASSWORD)");
  app.add_option("--token", g.server.token, "an access token (env DNSD_TOKEN)");
  app.add_option("--cacert", g.server.ca_file, "CA file: talk HTTPS and check the server with it");
  app.add_option("--dns", g.dns_server, "DNS address for lookup (ip[:port])")
      ->capture_default_str();
  app.add_option("--timeout-ms", g.server.timeout_ms, "per request")->capture_default_str();

  std::function<absl::Status(NacosHttp&)> run;
  bool needs_server = true;

  auto* service = app.add_subcommand("service", "services")->require_subcommand(1);
  int page = 1, size = 100;
  auto* service_list = service->add_subcommand("list", "list the services of a group");
  service_list->add_option("--page", page)->check(CLI::PositiveNumber);
  service_list->add_option("--size", size)->check(CLI::Range(1, 1000));
  service_list->callback(
      [&] { run = [&](NacosHttp& h) { return ServiceList(g, h, page, size); }; });
  std::string name;
  auto* service_get = service->add_subcommand("get", "a service's definition");
  service_get->add_option("name", name)->required();
  service_get->callback([&] { run = [&](NacosHttp& h) { return ServiceGet(g, h, name); }; });

  auto* instance = app.add_subcommand("instance", "instances")->require_subcommand(1);
  InstanceArgs ia;
  bool healthy_only = false;
  auto* instance_list = instance->add_subcommand("list", "a service's instances");
  instance_list->add_option("service", ia.service)->required();
  instance_list->add_flag("--healthy-only", healthy_only);
  instance_list->callback(
      [&] { run = [&](NacosHttp& h) { return InstanceList(g, h, ia.service, healthy_only); }; });
  auto add_instance_args = [&](CLI::App* cmd) {
    cmd->add_option("service", ia.service)->required();
    cmd->add_option("ip", ia.ip)->required();
    cmd->add_option("port", ia.port)->required()->check(CLI::Range(1, 65535));
    cmd->add_option("--cluster", ia.cluster)->capture_default_str();
    cmd->add_flag("--persistent", ia.persistent, "a persistent instance (no beats)");
  };
  auto* instance_register = instance->add_subcommand("register", "register an instance");
  add_instance_args(instance_register);
  instance_register->add_option("--weight", ia.weight)->check(CLI::Range(0.0, 10000.0));
  instance_register->add_option("--metadata", ia.metadata, "key=value (repeatable)");
  instance_register->add_flag("--disabled", ia.disabled);
  instance_register->callback(
      [&] { run = [&](NacosHttp& h) { return InstanceRegister(g, h, ia); }; });
  auto* instance_deregister = instance->add_subcommand("deregister", "remove an instance");
  add_instance_args(instance_deregister);
  instance_deregister->callback(
      [&] { run = [&](NacosHttp& h) { return InstanceDeregister(g, h, ia); }; });
  auto* instance_beat = instance->add_subcommand("beat", "send one heartbeat for an instance");
  add_instance_args(instance_beat);
  instance_beat->callback([&] { run = [&](NacosHttp& h) { return InstanceBeat(g, h, ia); }; });

  std::string type_name = "A";
  bool tcp = false;
  auto* lookup = app.add_subcommand("lookup", "ask dnsd's DNS port, as dig would");
  lookup->add_option("name", name)->required();
  lookup->add_option("type", type_name)->capture_default_str();
  lookup->add_flag("--tcp", tcp);
  lookup->callback([&] {
    needs_server = false;
    run = [&](NacosHttp&) { return Lookup(g, name, type_name, tcp); };
  });

  auto* config = app.add_subcommand("config", "configs")->require_subcommand(1);
  std::string content, file, config_type;
  int count = 0;
  auto* config_get = config->add_subcommand("get", "print a config");
  config_get->add_option("dataId", name)->required();
  config_get->callback([&] { run = [&](NacosHttp& h) { return ConfigGet(g, h, name); }; });
  auto* config_set = config->add_subcommand("set", "publish a config");
  config_set->add_option("dataId", name)->required();
  config_set->add_option("--content", content);
  config_set->add_option("--file", file, "read the content from a file (- for stdin)");
  config_set->add_option("--type", config_type, "text, json, yaml, properties, xml, html");
  config_set->callback([&] {
    run = [&](NacosHttp& h) { return ConfigSet(g, h, name, content, file, config_type); };
  });
  auto* config_delete = config->add_subcommand("delete", "delete a config");
  config_delete->add_option("dataId", name)->required();
  config_delete->callback([&] { run = [&](NacosHttp& h) { return ConfigDelete(g, h, name); }; });
  auto* config_history = config->add_subcommand("history", "a config's history, newest first");
  config_history->add_option("dataId", name)->required();
  config_history->add_option("--size", size)->check(CLI::Range(1, 500));
  config_history->callback(
      [&] { run = [&](NacosHttp& h) { return ConfigHistory(g, h, name, size); }; });
  auto* config_watch = config->add_subcommand("watch", "print a config each time it changes");
  config_watch->add_option("dataId", name)->required();
  config_watch->add_option("--count", count, "stop after this many changes (0: never)");
  config_watch->callback(
      [&] { run = [&](NacosHttp& h) { return ConfigWatch(g, h, name, count); }; });

  auto* config_export = config->add_subcommand("export", "all configs of the namespace as a zip");
  config_export->add_option("--file", file, "where to write it")->required();
  config_export->callback([&] { run = [&](NacosHttp& h) { return ConfigExport(g, h, file); }; });
  std::string policy = "abort";
  auto* config_import = config->add_subcommand("import", "publish the configs of an exported zip");
  config_import->add_option("file", file)->required();
  config_import
      ->add_option("--policy", policy,
                   "when a config exists: abort (nothing imported), skip, overwrite")
      ->check(CLI::IsMember({"abort", "skip", "overwrite"}))
      ->capture_default_str();
  config_import->callback(
      [&] { run = [&](NacosHttp& h) { return ConfigImport(g, h, file, policy); }; });

  auto* ns = app.add_subcommand("namespace", "namespaces")->require_subcommand(1);
  std::string ns_name, description;
  ns->add_subcommand("list", "list namespaces")->callback([&] {
    run = [&](NacosHttp& h) { return NamespaceList(g, h); };
  });
  auto* ns_create = ns->add_subcommand("create", "create a namespace");
  ns_create->add_option("id", name)->required();
  ns_create->add_option("--name", ns_name);
  ns_create->add_option("--description", description);
  ns_create->callback(
      [&] { run = [&](NacosHttp& h) { return NamespaceCreate(h, name, ns_name, description); }; });
  auto* ns_delete =
      ns->add_subcommand("delete", "delete a namespace (refused while it has configs or services)");
  ns_delete->add_option("id", name)->required();
  ns_delete->callback([&] { run = [&](NacosHttp& h) { return NamespaceDelete(h, name); }; });

  auto* cluster = app.add_subcommand("cluster", "the cluster")->require_subcommand(1);
  cluster->add_subcommand("status", "members, their state and Raft roles")->callback([&] {
    run = [&](NacosHttp& h) { return ClusterStatus(g, h); };
  });

  std::string shell;
  auto* completion = app.add_subcommand("completion", "print a shell completion script");
  completion->add_option("shell", shell)->required()->check(CLI::IsMember({"bash"}));
  completion->callback([&] {
    needs_server = false;
    run = [&](NacosHttp&) {
      std::cout << kBashCompletion;
      return absl::OkStatus();
    };
  });

  // Global options may come after the command too (dnsctl service list -o json).
  std::function<void(CLI::App*)> let_options_through = [&](CLI::App* cmd) {
    for (CLI::App* sub : cmd->get_subcommands({})) {
      sub->fallthrough();
      let_options_through(sub);
    }
  };
  let_options_through(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }
  if (!run) return kUsage;
  if (!needs_server) {
    // Commands that need no HTTP client still go through one signature.
    auto unused = NacosHttp::Connect(dnsd::ctl::ServerOptions{});
    return ExitFor(run(*unused));
  }
  auto http = NacosHttp::Connect(g.server);
  if (!http.ok()) return ExitFor(http.status());
  return ExitFor(run(*http));
}
