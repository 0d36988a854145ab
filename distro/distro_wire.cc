#include "distro/distro_wire.h"

#include "common/strings.h"

namespace dnsd::distro {

void EncodeClient(const std::string& client_id, uint64_t revision,
                  const std::vector<registry::Registry::Publication>& publications,
                  dnsd::peer::DistroClient& out) {
  out.set_id(client_id);
  out.set_revision(revision);
  for (const auto& p : publications) {
    auto* m = out.add_instances();
    m->set_namespace_id(p.service.namespace_id);
    m->set_group(p.service.group);
    m->set_service(p.service.name);
    const registry::Instance& i = *p.instance;
    m->set_ip(i.address.ip);
    m->set_port(i.address.port);
    m->set_cluster(i.address.cluster);
    m->set_instance_id(i.instance_id);
    m->set_weight(i.weight);
    m->set_healthy(i.healthy);
    m->set_enabled(i.enabled);
    for (const auto& [k, v] : i.metadata) (*m->mutable_metadata())[k] = v;
    m->set_heartbeat(p.heartbeat_driven);
  }
}

absl::StatusOr<std::vector<registry::Registry::Publication>> DecodeClient(
    const dnsd::peer::DistroClient& client) {
  if (client.id().empty()) return absl::InvalidArgumentError("a Distro client without an id");
  std::vector<registry::Registry::Publication> out;
  out.reserve(client.instances_size());
  for (const auto& m : client.instances()) {
    registry::ServiceKey key{m.namespace_id(), m.group(), m.service()};
    if (auto s = registry::ValidateServiceKey(key); !s.ok()) {
      return absl::InvalidArgumentError(
          common::StrCat("client ", client.id(), ": ", common::ToStd(s.message())));
    }
    registry::Instance i;
    i.address = {m.ip(), m.port(), m.cluster()};
    i.instance_id = m.instance_id();
    i.weight = m.weight();
    i.healthy = m.healthy();
    i.enabled = m.enabled();
    i.ephemeral = true;
    i.metadata.insert(m.metadata().begin(), m.metadata().end());
    if (auto s = registry::ValidateInstance(i); !s.ok()) {
      return absl::InvalidArgumentError(
          common::StrCat("client ", client.id(), ": ", common::ToStd(s.message())));
    }
    out.push_back(registry::Registry::Publication{
        std::move(key), std::make_shared<const registry::Instance>(std::move(i)), m.heartbeat()});
  }
  return out;
}

}  // namespace dnsd::distro
