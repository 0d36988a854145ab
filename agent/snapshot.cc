#include "agent/snapshot.h"

#include <fcntl.h>
#include <json/json.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/json_writer.h"
#include "common/files.h"
#include "common/strings.h"

namespace dnsd::agent {
namespace {

constexpr std::string_view kMagic = "dnsd-agent-snapshot";
constexpr int kFormat = 1;

void WriteHost(api::JsonWriter& w, const registry::Instance& instance) {
  w.BeginObject();
  w.Key("ip").String(instance.ip());
  w.Key("port").Int(instance.port());
  w.Key("weight").Double(instance.weight);
  w.Key("healthy").Bool(instance.healthy);
  w.Key("enabled").Bool(instance.enabled);
  w.Key("ephemeral").Bool(instance.ephemeral);
  w.Key("clusterName").String(instance.cluster());
  w.Key("instanceId").String(instance.instance_id);
  w.Key("metadata").BeginObject();
  for (const auto& [k, v] : instance.metadata) w.Key(k).String(v);
  w.EndObject();
  w.EndObject();
}

std::string EncodeBody(const Snapshot& snapshot) {
  // Streamed, not built as a jsoncpp tree: the agent writes it every second while lists change,
  // and a tree of every host would be the largest thing in its heap.
  api::JsonWriter w;
  size_t hosts = 0;
  for (const auto& saved : snapshot.services) hosts += saved.hosts.size();
  w.str().reserve(128 + snapshot.services.size() * 160 + hosts * 192);
  w.BeginObject();
  w.Key("namespace").String(snapshot.namespace_id);
  w.Key("written_ms").Int(snapshot.written_ms);
  w.Key("services").BeginArray();
  for (const auto& saved : snapshot.services) {
    w.BeginObject();
    w.Key("revision").Int(saved.revision);
    w.Key("confirmed_ms").Int(saved.confirmed_ms);
    w.Key("serviceInfo").BeginObject();
    w.Key("name").String(saved.key.name);
    w.Key("groupName").String(saved.key.group);
    w.Key("hosts").BeginArray();
    for (const auto& host : saved.hosts) WriteHost(w, *host);
    w.EndArray();
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.Take();
}

std::string HeaderOf(const std::string& body) {
  char header[80];
  std::snprintf(header, sizeof(header), "%s %d %08x %zu\n", kMagic.data(), kFormat,
                common::Crc32(body), body.size());
  return header;
}

}  // namespace

std::string EncodeSnapshot(const Snapshot& snapshot) {
  const std::string body = EncodeBody(snapshot);
  return HeaderOf(body) + body;
}

absl::StatusOr<Snapshot> DecodeSnapshot(const std::string& bytes) {
  auto bad = [](std::string_view what) {
    return absl::DataLossError(common::StrCat("agent snapshot: ", what));
  };
  const size_t eol = bytes.find('\n');
  if (eol == std::string::npos || eol > 100) return bad("no header line");
  char magic[32] = {};
  int format = 0;
  unsigned crc = 0;
  size_t length = 0;
  const std::string header = bytes.substr(0, eol);
  if (std::sscanf(header.c_str(), "%31s %d %8x %zu", magic, &format, &crc, &length) != 4 ||
      magic != kMagic) {
    return bad("the header line is not a dnsd agent snapshot's");
  }
  if (format != kFormat) return bad(common::StrCat("unknown format ", format));
  const std::string body = bytes.substr(eol + 1);
  if (body.size() != length) {
    return bad(common::StrCat("truncated or extended: ", body.size(), " body bytes, header says ",
                              length));
  }
  if (common::Crc32(body) != crc) return bad("checksum mismatch (the file is damaged)");
  Json::CharReaderBuilder builder;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  if (!reader->parse(body.data(), body.data() + body.size(), &root, &errors) || !root.isObject()) {
    return bad("the body is not a JSON object");
  }
  if (!root["namespace"].isString() || !root["written_ms"].isIntegral() ||
      !root["services"].isArray()) {
    return bad("namespace, written_ms or services missing");
  }
  Snapshot snapshot;
  snapshot.namespace_id = root["namespace"].asString();
  snapshot.written_ms = root["written_ms"].asInt64();
  for (const Json::Value& s : root["services"]) {
    if (!s.isObject() || !s["revision"].isIntegral() || !s["confirmed_ms"].isIntegral()) {
      return bad("a service lacks revision or confirmed_ms");
    }
    auto info = ServiceInfoFromJson(s["serviceInfo"], snapshot.namespace_id);
    if (!info.ok()) return bad(common::ToStd(info.status().message()));
    snapshot.services.push_back(
        {info->key, ToHostList(info->hosts), s["revision"].asInt64(), s["confirmed_ms"].asInt64()});
  }
  return snapshot;
}

absl::Status WriteSnapshot(const std::string& path, const Snapshot& snapshot) {
  // Header and body written one after the other: no third copy of the body.
  const std::string body = EncodeBody(snapshot);
  const std::string header = HeaderOf(body);
  const std::string tmp = path + ".tmp";
  {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return absl::InternalError(common::StrCat("open ", tmp, ": ", strerror(errno)));
    size_t done = 0;
    const size_t total = header.size() + body.size();
    while (done < total) {
      const bool in_header = done < header.size();
      const std::string& part = in_header ? header : body;
      const size_t offset = in_header ? done : done - header.size();
      const ssize_t n = ::write(fd, part.data() + offset, part.size() - offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int saved = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return absl::InternalError(common::StrCat("write ", tmp, ": ", strerror(saved)));
      }
      done += static_cast<size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!synced) {
      ::unlink(tmp.c_str());
      return absl::InternalError(common::StrCat("fsync ", tmp, ": ", strerror(saved)));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(common::StrCat("rename ", tmp, ": ", strerror(saved)));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return common::SyncPath(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
}

absl::StatusOr<Snapshot> ReadSnapshot(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return absl::NotFoundError(path + ": no snapshot");
    return absl::DataLossError(common::StrCat(path, ": cannot be read"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto snapshot = DecodeSnapshot(buffer.str());
  if (!snapshot.ok()) {
    return absl::DataLossError(common::StrCat(path, ": ", snapshot.status().message()));
  }
  return snapshot;
}

}  // namespace dnsd::agent
